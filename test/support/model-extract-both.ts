// One bundle (built by the model extraction test with esbuild) holding the model extraction, the
// preprocessor that makes its inputs and the parser, so both walks run on the same trees.
export { loadParser, parseText } from '../../server/src/engine/parse/parser';
export { SourceStore } from '../../server/src/engine/workspace';
export { preprocessUnit } from '../../server/src/engine/preprocess/unit';
export { ABIS } from '../../server/src/engine/layout/abi';
export { extractModel, worthCopying } from '../../server/src/engine/model/extract';
