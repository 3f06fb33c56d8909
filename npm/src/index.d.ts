import type { FieldType, InstallationStatus } from "./contract.js";

export type { FieldType, InstallationStatus } from "./contract.js";

export interface Installation {
  id: string;
  status: InstallationStatus;
  config: Record<string, unknown>;
  [more: string]: unknown;
}

export interface Context {
  project: { id: string; name: string; mgmtApi: string; [more: string]: unknown };
  environment: {
    id: string;
    name: string;
    endpoint: string;
    /**
     * A short-lived SESSION token minted for this frame, with the app's
     * grants; the platform refreshes it before it expires (onContextChange).
     */
    authToken: string;
    [more: string]: unknown;
  };
  installation: Installation;
  user?: { id: string; [more: string]: unknown };
  /** Present when the frame is one of the app's elements. */
  element?: Element;
  [more: string]: unknown;
}

interface ElementBase {
  /** The element's apiId, as the app declared it. */
  apiId: string;
  /** The app's settings for the element, as declared. */
  config: Record<string, unknown>;
  [more: string]: unknown;
}

export interface PageElement extends ElementBase {
  type: "page";
  /** Where in the page the platform opened it ("/" at first). */
  route: string;
}

export interface SidebarElement extends ElementBase {
  type: "sidebar";
  model: string;
  /** The entry open in the editor (`id` null for a new entry). */
  entry: { id: string | null };
  /** The entry's values as the editor has them now (pushed as the person types). */
  values: Record<string, unknown>;
}

export interface FieldElement extends ElementBase {
  type: "field";
  field: { apiId: string; type: FieldType };
  model: string;
  entry: { id: string | null };
  value: unknown;
  locale?: string;
  stage?: string;
  isReadOnly: boolean;
}

export interface DialogElement extends ElementBase {
  type: "dialog";
  /** What the opener passed as openDialog's options. */
  options: { title?: string; width?: number; height?: number; config?: Record<string, unknown> };
}

export type Element = PageElement | SidebarElement | FieldElement | DialogElement;

export interface InitOptions {
  /**
   * Pins the one origin the platform is served from, e.g.
   * "https://studio.example.com" (no "*"). Without it (and without
   * `parentOrigins`) the origin is learned from the browser.
   */
  parentOrigin?: string;
  /** Pins several origins; the browser's report picks the one framing the app. */
  parentOrigins?: string[];
  /** How long the handshake and each call wait for the parent (default 10000). */
  timeoutMs?: number;
}

export interface InstallationUpdate {
  status?: InstallationStatus;
  config?: Record<string, unknown>;
}

/** Stable reasons carried in `TallyError.code`. */
export type TallyErrorCode =
  | "invalid_argument"
  | "not_in_frame"
  | "no_parent_origin"
  | "parent_not_pinned"
  | "timeout"
  | "protocol"
  | "closed"
  | "no_setup_code"
  | "exchange_failed"
  | "network"
  | "browser"
  | "not_handled"
  | "unknown_method"
  | "handler_failed"
  | "not_allowed"
  | (string & {});

/** Every rejection of the SDK: an Error named "TallyError". */
export interface TallyError extends Error {
  name: "TallyError";
  code: TallyErrorCode;
  /** HTTP status, for code "exchange_failed". */
  status?: number;
}

export declare class App {
  private constructor();
  readonly context: Context;
  readonly installation: Installation;
  setupCode(): string | null;
  managementApiBaseUrl(): string;
  updateInstallation(update: InstallationUpdate): Promise<Installation>;
  /** Posts { code, environmentId, managementApiBaseUrl } to the app backend (default /api/exchangeSetupCode). */
  exchangeSetupCode<T = Record<string, unknown>>(options?: { endpoint?: string }): Promise<T>;
  /** A session token that is not due for refresh (fetched by the platform when needed). */
  getSessionToken(): Promise<string>;
  showToast(toast: { message: string; variant?: "info" | "success" | "warning" | "error" }): Promise<unknown>;
  resize(size: { height: number; width?: number }): Promise<unknown>;
  /** Keeps the frame as tall as the page (resize on every change); returns a stop function. */
  autoResize(): () => void;
  /** The element this frame is, or null for the app's setup or main page. */
  readonly element: Element | null;
  /** A field element's new value; calls within 50 ms are sent as one. */
  setValue(value: unknown): Promise<unknown>;
  /** A field element marks its value invalid (null clears it). */
  setInvalid(message: string | null): Promise<unknown>;
  /** Opens a page of this app as a dialog; resolves with its closeDialog value (null when dismissed). */
  openDialog<T = unknown>(url: string, options?: DialogElement["options"]): Promise<T | null>;
  /** In a dialog: closes it with `value`. */
  closeDialog(value?: unknown): Promise<unknown>;
  /** Moves the platform to a path within it. */
  navigate(to: string): Promise<unknown>;
  /** Asks the person to confirm. */
  confirm(question: { message: string; title?: string }): Promise<boolean>;
  onContextChange(callback: (context: Context) => void): () => void;
  close(): void;
}

export declare function init(options?: InitOptions): Promise<App>;
export declare function ready(): Promise<unknown>;
export declare function isTallyError(err: unknown): err is TallyError;
