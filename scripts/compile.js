#!/usr/bin/env node
// Compiles contracts/ offline with the pinned wasm solc and the settings in
// hardhat.config.js. Writes one JSON artifact per contract to build/contracts/,
// and copies the ones the server needs at run time to app/chain/artifacts/
// (committed, so the Python server never needs Node in production).
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");
const config = require("../hardhat.config.js");

const root = path.resolve(__dirname, "..");
const sourcesDir = path.join(root, "contracts");
const buildDir = path.join(root, "build", "contracts");
const runtimeDir = path.join(root, "app", "chain", "artifacts");
// Contracts the server deploys or talks to; everything else is test-only.
const RUNTIME = new Set(["MicropaymentHub", "TestStablecoin"]);

function listSources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listSources(full);
    return entry.name.endsWith(".sol") ? [full] : [];
  });
}

function findImport(importPath) {
  for (const base of [root, path.join(root, "node_modules")]) {
    const candidate = path.join(base, importPath);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `import not found: ${importPath}` };
}

function main() {
  if (solc.version().split("+")[0] !== config.solidity.version) {
    throw new Error(`solc ${solc.version()} installed, hardhat.config.js pins ${config.solidity.version}: run scripts/install`);
  }
  const sources = {};
  for (const file of listSources(sourcesDir)) {
    sources[path.relative(root, file)] = { content: fs.readFileSync(file, "utf8") };
  }
  const input = { language: "Solidity", sources, settings: config.solidity.settings };
  const started = Date.now();
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));

  const errors = (output.errors || []).filter((e) => e.severity === "error");
  // Warnings about library code (OpenZeppelin's use of transient storage) are not ours to act on.
  const ours = (m) => m.severity === "error" || (m.sourceLocation?.file ?? "contracts/").startsWith("contracts/");
  for (const message of (output.errors || []).filter(ours)) process.stderr.write(message.formattedMessage + "\n");
  if (errors.length > 0) process.exit(1);

  fs.mkdirSync(buildDir, { recursive: true });
  fs.mkdirSync(runtimeDir, { recursive: true });
  let count = 0;
  for (const [sourceName, contracts] of Object.entries(output.contracts)) {
    if (!sourceName.startsWith("contracts/")) continue;
    for (const [contractName, out] of Object.entries(contracts)) {
      if (!out.evm.bytecode.object) continue; // interfaces and libraries without code
      const artifact = {
        contractName,
        sourceName,
        compiler: { version: solc.version(), settings: config.solidity.settings },
        abi: out.abi,
        bytecode: "0x" + out.evm.bytecode.object,
        deployedBytecode: "0x" + out.evm.deployedBytecode.object,
      };
      const text = JSON.stringify(artifact, null, 1) + "\n";
      fs.writeFileSync(path.join(buildDir, `${contractName}.json`), text);
      if (RUNTIME.has(contractName)) fs.writeFileSync(path.join(runtimeDir, `${contractName}.json`), text);
      count += 1;
    }
  }
  console.log(`compiled ${count} contracts with solc ${solc.version()} in ${Date.now() - started} ms`);
}

main();
