// One bundle (built by the tests with esbuild) holding the shipped lock extraction and the
// reference one (./lock-extract-reference), with the parser and the source store they read from,
// so both run on the same trees.
export { loadParser, parseText } from '../../server/src/engine/parse/parser';
export { SourceStore } from '../../server/src/engine/workspace';
export { extractFile } from '../../server/src/engine/analyses/locks/extract';
export { plainTree } from '../../server/src/engine/parse/plain-tree';
export { extractFile as referenceExtractFile } from './lock-extract-reference/extract';
