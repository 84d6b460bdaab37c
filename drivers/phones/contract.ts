// The contract every phone model driver in drivers/phones/ fulfils. A driver is pure: it validates a
// phone and renders the file(s) that model fetches at boot, with no I/O. The core (src/provision/) reads
// sheets, seals passwords, keeps versions, writes and serves the files; it imports this contract from here,
// and drivers import nothing of src/ but src/util/ (docs/ARCHITECTURE.md, "Layers").

/** One phone, normalised by the core before it reaches a driver. */
export interface Phone {
  /** 12 lower-case hex digits, no separators. */
  mac: string;
  /** Driver id, e.g. 'fanvil-x1sg'. */
  model: string;
  /** SIP extension / user part, e.g. '1001'. */
  extension: string;
  /** Display name; the core fills in the extension when the sheet has no name. */
  name: string;
  /** SIP auth user; the core fills in the extension when the sheet has none. */
  authUser: string;
  /** SIP password in clear text; only ever in memory while rendering. */
  password: string;
  /** Registrar/proxy host name or address. */
  server: string;
  /** SIP port of the registrar. */
  port: number;
  /** 1-based account (line) number on the phone. */
  line: number;
  room?: string;
  /** Values of the driver's own extra columns (by column name). */
  extra: Record<string, string>;
}

/** Site-wide settings from config, resolved by the core for one phone. */
export interface ProvisionSettings {
  /**
   * Absolute URL of the directory this phone fetches its files from, ending in '/'
   * (e.g. 'http://10.20.0.5:8080/provision/' or with a per-phone token segment '…/provision/t/<token>/').
   */
  configUrl: string;
  /** HTTP basic-auth credentials the phone must present on later fetches, when configured. */
  auth?: { user: string; password: string };
  ntpServer: string;
  /** IANA zone name, e.g. 'America/Sao_Paulo'. */
  timezone: string;
  /** The zone's standard-time offset from UTC in minutes (e.g. -180), resolved by the core. */
  utcOffsetMinutes: number;
  /** Web/admin password to set on the phone. */
  adminPassword: string;
  /** Config version; the core raises it whenever this phone's file content changes. Starts at 1. */
  version: number;
  /** Driver options from config `provision.drivers.<driver id>` (e.g. Fanvil `{ format: 'xml' }`). */
  options: Record<string, unknown>;
  /** Absolute URL of the firmware image, only while a firmware wave includes this phone. */
  firmwareUrl?: string;
}

export interface RenderedFile {
  /** File name as the phone requests it (the core matches requests case-insensitively). */
  name: string;
  contentType: string;
  body: string;
}

export interface ColumnSpec {
  /** Normalised column name (lower case, underscores) as it reaches Phone.extra. */
  name: string;
  /** Other accepted header names (normalised), e.g. Portuguese ones. */
  aliases?: string[];
  required?: boolean;
  description: string;
}

export interface FieldProblem {
  /** Which field: 'name', 'password', 'extension', an extra column… */
  field: string;
  message: string;
}

export interface UserAgentInfo {
  vendor: string;
  model: string;
  firmware?: string;
  /** 12 lower-case hex digits when the user agent carries it. */
  mac?: string;
}

/** A vendor key set over a driver's defaults (`provision set`); the core resolves model < room < phone first. */
export interface Override {
  key: string;
  value: string;
}

/**
 * How a driver takes overrides: vendor keys in its own file format, set over what `render` wrote (the line,
 * element or attribute replaced, or added). Pure like the rest of the driver; `override-styles.ts` beside this file
 * has the pieces most formats need. A driver without it takes no overrides.
 */
export interface OverrideStyle {
  /** What a key is in this format, for help and messages: 'Yealink "key = value" lines, e.g. features.dnd.enable'. */
  describe: string;
  /** A key and value this format holds that changes a rendered file: for `help` examples and the contract test. */
  example: Override;
  /**
   * The key as stored (normalised where the format is, e.g. 'p1362' → 'P1362'), or why this format cannot
   * hold it, naming the key. `options` are the driver's config options (Fanvil's two formats take other keys).
   */
  key(key: string, options: Record<string, unknown>): { key: string } | { problem: string };
  /** Why this format cannot carry a value for this key, or null. Never repeats the value (it may be a secret). */
  valueProblem(key: string, value: string, options: Record<string, unknown>): string | null;
  /**
   * What the key is when Switchboard writes it for correctness — the account credentials, the provisioning URL
   * and its credentials, the admin password, the firmware URL of waves — (refused unless forced); else null.
   */
  owned(key: string): string | null;
  /** True when the key's value may be a secret (a password, a PIN): sealed at rest, never shown or audited. */
  secret(key: string): boolean;
  /**
   * The files with the overrides set, in the order given (a later one of the same key wins). Keys this format
   * cannot hold under the current options (another format's, after a config change) are left out.
   */
  apply(files: RenderedFile[], overrides: Override[], settings: ProvisionSettings): RenderedFile[];
}

export interface PhoneDriver {
  /** Stable id used in sheets, commands and the store: 'fanvil-x1sg'. */
  id: string;
  vendor: string;
  /** Human label for messages: 'Fanvil X1SG'. */
  label: string;
  /** Other names a technician may type (lower case): 'x1sg', 'fanvil', 'x1s', … */
  aliases: string[];
  /** OUIs of the vendor: 6 lower-case hex digits. */
  ouis: string[];
  /** Highest line number the model carries. */
  maxLines: number;
  /** Extra columns beyond the common ones (mac, extension, name, password, server, line, ip, room, model). */
  columns: ColumnSpec[];
  /** Options accepted under config provision.drivers.<id>, as a JSON schema object (ajv). */
  optionsSchema?: Record<string, unknown>;
  /** Vendor-format limits: lengths and characters the file format cannot carry. Empty when fine. */
  validate(phone: Phone): FieldProblem[];
  /**
   * Site-wide values from config the format cannot carry (e.g. a character that ends a value). `field` is
   * the config key under provision (e.g. 'adminPassword'); the message never repeats the value. Checked at start.
   */
  validateSettings?(s: { adminPassword: string }): FieldProblem[];
  /** Names of the per-phone files for this MAC. */
  fileNames(mac: string): string[];
  /** Render the per-phone file(s). Pure and deterministic. */
  render(phone: Phone, settings: ProvisionSettings): RenderedFile[];
  /**
   * A model-wide ("common") file the phone probes besides its own, answered with a minimal valid file;
   * null when the name is not one of this model's common files.
   */
  commonFile?(name: string, settings: Omit<ProvisionSettings, 'version'>): RenderedFile | null;
  /** Recognise this vendor's user agent; null when it is not one. */
  parseUserAgent(ua: string): UserAgentInfo | null;
  /** A user agent this model really sends, for `provision models` and the tests (the MAC in it is an example). */
  sampleUserAgent?: string;
  /** Where the keys of the rendered file come from (vendor document or public template), for `provision models`. */
  source?: string;
  /** Vendor keys `provision set` may put over the rendered files; absent when the model takes none. */
  overrides?: OverrideStyle;
}
