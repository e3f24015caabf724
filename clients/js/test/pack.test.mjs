// npm pack of both packages gives tarballs that install into a fresh app: the scratch app
// (test/scratch/app.tsx, the seed's examples) type-checks against them with tsc --strict, and
// the installed modules load. Needs the npm registry (or npm's cache) for react, react-dom,
// typescript and @types/react; the two packages come from the tarballs only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
// The scratch app gets the versions the workspace is tested with.
const pinned = (name) => `${name}@${lock.packages[`node_modules/${name}`].version}`;

let dir;
const tarballs = {};

before(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-pack-'));
	for (const name of ['herald-client', 'herald-react']) {
		const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir],
			{ cwd: path.join(ROOT, 'packages', name) });
		const [info] = JSON.parse(stdout);
		tarballs[name] = { file: path.join(dir, info.filename), files: info.files.map((f) => f.path) };
	}
});

after(() => {
	if (dir)
		fs.rmSync(dir, { recursive: true, force: true });
});

test('the tarballs hold the module, its declarations and package.json, no tests', () => {
	assert.deepEqual(tarballs['herald-client'].files.sort(),
		['herald-client.d.ts', 'herald-client.js', 'package.json']);
	assert.deepEqual(tarballs['herald-react'].files.sort(),
		['index.d.ts', 'index.js', 'package.json', 'styles.css']);
});

test('they install into a fresh app that type-checks with tsc --strict and loads them',
	{ timeout: 300000 }, async () => {
		const app = path.join(dir, 'app');
		fs.mkdirSync(app);
		fs.writeFileSync(path.join(app, 'package.json'),
			JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }, null, 2));
		await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error',
			tarballs['herald-client'].file, tarballs['herald-react'].file,
			pinned('react'), pinned('react-dom'), pinned('typescript'), pinned('@types/react'),
			pinned('@types/react-dom')], { cwd: app });

		// herald-react's dependency is the tarball's herald-client, not a registry package.
		const installed = (name) =>
			JSON.parse(fs.readFileSync(path.join(app, 'node_modules', name, 'package.json'), 'utf8'));
		assert.equal(installed('herald-client').version, '0.1.0');
		assert.equal(fs.existsSync(path.join(app, 'node_modules/herald-react/node_modules')), false,
			'one herald-client, shared');

		fs.copyFileSync(path.join(HERE, 'scratch/app.tsx'), path.join(app, 'app.tsx'));
		const tsc = path.join(app, 'node_modules/.bin/tsc');
		const common = ['--noEmit', '--strict', '--jsx', 'react-jsx', '--target', 'es2022',
			'--lib', 'es2022,dom', '--skipLibCheck', 'false', 'app.tsx'];
		for (const resolution of [['--module', 'esnext', '--moduleResolution', 'bundler'],
			['--module', 'nodenext', '--moduleResolution', 'nodenext']]) {
			try {
				await run(tsc, [...resolution, ...common], { cwd: app });
			} catch (err) {
				assert.fail(`tsc ${resolution.join(' ')}:\n${err.stdout}${err.stderr}`);
			}
		}

		// The modules load (ESM, resolved through the packages' exports).
		const { stdout } = await run('node', ['--input-type=module', '-e', `
			const client = await import('herald-client');
			const react = await import('herald-react');
			console.log(typeof client.createHeraldClient, typeof react.HeraldProvider,
				typeof react.useNotification);`], { cwd: app });
		assert.equal(stdout.trim(), 'function function function');
	});
