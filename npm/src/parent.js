// tally-sdk/parent: the platform side of the frame protocol. Hosts an app in
// an iframe: pins the app's origin and window, answers getContext,
// updateInstallation, showToast and resize, and pushes context changes.
import loadModule, { createAppFrame as create } from "../dist/parent/tally_sdk.js";

let loading;
/** Loads the bridge's wasm once (createAppFrame() does this for you). */
export function ready() {
  return (loading ??= loadModule());
}

/**
 * Starts answering the app in `options.iframe`.
 * @param {{ iframe: HTMLIFrameElement, appOrigin: string, context: object, handlers?: object }} options
 */
export async function createAppFrame(options) {
  await ready();
  return create(options);
}
