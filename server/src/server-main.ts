// Entry point of dist/server.js. The transport comes from the command line, as
// vscode-languageserver reads it: --stdio, --node-ipc, --socket=<port> or --pipe=<name>.
import { ProposedFeatures, createConnection } from 'vscode-languageserver/node';
import { startServer } from './server';

startServer(createConnection(ProposedFeatures.all));
