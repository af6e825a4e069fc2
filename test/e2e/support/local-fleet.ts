// The lab fleet lives in local/ (the demo and the CLI use it too); tests import it from here as before.
export * from '../../../local/lab-fleet.js';
