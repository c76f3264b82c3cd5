// One bundle (built by the tests with esbuild) holding the shipped lock extraction, with the parser
// and the source store it reads from, so it runs on the plain copy of a tree (extractFile) and on
// web-tree-sitter's own nodes of the same tree (extractTree with tree.rootNode).
export { loadParser, parseText } from '../../server/src/engine/parse/parser';
export { SourceStore } from '../../server/src/engine/workspace';
export { extractFile, extractTree, mayHoldFunctionsOrInitializers } from '../../server/src/engine/analyses/locks/extract';
export { plainTree } from '../../server/src/engine/parse/plain-tree';
