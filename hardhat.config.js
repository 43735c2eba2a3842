// Solidity build settings, shared by `scripts/compile` (offline solc-js, the
// build the project uses) and by Hardhat 2 if a developer installs it.
//
// Hardhat would try to download a native compiler; the subtask override below
// points it at the wasm build from the pinned npm `solc` package instead, so
// both paths compile offline with exactly the same compiler and settings.
const SOLC_VERSION = "0.8.30";

const settings = {
  optimizer: { enabled: true, runs: 200 },
  viaIR: true,
  evmVersion: "prague",
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"] },
  },
};

try {
  // Only when Hardhat itself is installed; scripts/compile never needs it.
  const { subtask } = require("hardhat/config");
  const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
  subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async () => ({
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: require("solc/package.json").version,
  }));
} catch {
  // Hardhat is not installed: fine, scripts/compile reads the settings below.
}

module.exports = {
  solidity: { version: SOLC_VERSION, settings },
  paths: { sources: "./contracts", artifacts: "./build/hardhat" },
};
