/** lmforge: the package entry point. Importing it installs the default backend. */
import './backend/index.js';

export * from './tensor/index.js';
export { useBackend, currentBackend, availableBackends, type BackendName } from './backend/index.js';
export * from './util/errors.js';
