// One bundle (built by test/plain-tree-wasm.test.mjs with esbuild) with the plain-tree copy, the
// parser and the source store, so the copy through wasm and through web-tree-sitter's cursor run
// on the same trees.
export { loadParser, parseText } from '../../server/src/engine/parse/parser';
export { SourceStore } from '../../server/src/engine/workspace';
export { plainTree } from '../../server/src/engine/parse/plain-tree';
export { wasmCursorAvailable } from '../../server/src/engine/parse/wasm-cursor';
