const BEGIN = '-----BEGIN NATS USER JWT-----';
const END = '------END NATS USER JWT------';

/** The user JWT inside a decorated `.creds` text. */
export function jwtOfCreds(creds: Uint8Array): string {
  const text = new TextDecoder().decode(creds);
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  return start < 0 || end < 0 ? '' : text.slice(start + BEGIN.length, end).trim();
}

/** The same `.creds` with another user JWT for the same key pair (the seed is kept as it is). */
export function credsWithJwt(creds: Uint8Array, jwt: string): Uint8Array {
  const text = new TextDecoder().decode(creds);
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < 0) return creds;
  return new TextEncoder().encode(`${text.slice(0, start + BEGIN.length)}\n${jwt}\n${text.slice(end)}`);
}
