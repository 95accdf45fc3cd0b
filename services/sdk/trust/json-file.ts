import { readFile } from 'node:fs/promises';
import { LiaisonError } from '../errors.ts';

/** Read a JSON file; undefined when it does not exist, ERR_CONFIG_INVALID (naming `what`) when it is not JSON. */
export async function readJsonFile<T>(file: string, what: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${what} ${file} is not JSON`, { file }, { cause: err });
  }
}
