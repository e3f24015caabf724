// The declarations against typical and wrong uses: types-check.ts must compile with tsc --strict
// (each misuse there is marked @ts-expect-error, so a declaration that lets it pass fails too).
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TSC = path.resolve(HERE, '../../../node_modules/.bin/tsc');

test('herald-client.d.ts: typical uses compile with tsc --strict, misuses do not', async () => {
	await promisify(execFile)(TSC, ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext',
		'--moduleResolution', 'nodenext', '--lib', 'es2022,dom', path.join(HERE, 'types-check.ts')]);
});
