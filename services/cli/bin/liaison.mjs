#!/usr/bin/env node
// `npx liaison …`: npx puts node_modules/.bin first on PATH, so `node` here is the pinned Node 24,
// which runs the TypeScript sources directly.
import { main } from '../main.ts';

await main();
