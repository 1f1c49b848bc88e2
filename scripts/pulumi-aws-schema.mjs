#!/usr/bin/env node
// Extracts a compact resource schema from the published npm package
// `@pulumi/aws` so that panka can check the Pulumi YAML programs it emits
// against the real provider: type tokens, input properties (with required
// markers), output properties, nested input types and deprecation markers.
//
// Usage: node scripts/pulumi-aws-schema.mjs [--version 7.x.y] [--out FILE]
//        [--pulumi-schema FILE]
//        [--package-dir DIR]   (an already unpacked package, for offline use)
//
// The output is cached: when FILE exists it is left alone (delete it to
// regenerate). Default FILE: target/pulumi-aws-schema/<version>.json.
//
// --pulumi-schema FILE writes, instead of the compact schema (or as well,
// when --out is also given), a real Pulumi package schema (the format
// `pulumi package get-schema` prints and a provider's GetSchema returns):
// typed inputs and outputs of every resource, the provider's configuration,
// functions and object types, without descriptions. The stand-in AWS
// provider of the tests (tests/stand-in-aws) serves it. Cached the same way.
//
// Only the package's generated TypeScript declarations and JavaScript are
// read; they are regular enough (one member per declaration, JSDoc above it)
// for a line-oriented parser. The script fails loudly when it recognises
// fewer resources than expected rather than writing a thin schema.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const DEFAULT_VERSION = "7.48.0";

function parseArgs(argv) {
  const args = { version: DEFAULT_VERSION, out: null, packageDir: null, pulumiSchema: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--version") args.version = argv[++i];
    else if (a === "--out") args.out = argv[++i];
    else if (a === "--package-dir") args.packageDir = argv[++i];
    else if (a === "--pulumi-schema") args.pulumiSchema = argv[++i];
    else if (a === "-h" || a === "--help") {
      process.stdout.write(
        "usage: pulumi-aws-schema.mjs [--version V] [--out FILE] [--pulumi-schema FILE] [--package-dir DIR]\n",
      );
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  if (!/^7\.\d+\.\d+$/.test(args.version)) {
    throw new Error(`version ${args.version} is not a pulumi-aws 7.x.y version`);
  }
  return args;
}

function fetchPackage(version) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "panka-pulumi-aws-"));
  execFileSync("npm", ["pack", `@pulumi/aws@${version}`, "--silent", "--pack-destination", dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const tgz = fs.readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tgz) throw new Error("npm pack produced no tarball");
  execFileSync("tar", ["-xzf", path.join(dir, tgz), "-C", dir]);
  return { dir: path.join(dir, "package"), cleanup: dir };
}

// ---------- type expressions ----------

function stripWrapper(t, name) {
  const prefix = `${name}<`;
  t = t.trim();
  while (t.startsWith(prefix) && t.endsWith(">") && balancedInner(t.slice(prefix.length, -1))) {
    t = t.slice(prefix.length, -1).trim();
  }
  return t;
}

function balancedInner(s) {
  let depth = 0;
  for (const c of s) {
    if ("<{[(".includes(c)) depth++;
    else if (">}])".includes(c)) depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}

function splitTop(s, sep) {
  const parts = [];
  let depth = 0;
  let cur = "";
  for (const c of s) {
    if ("<{[(".includes(c)) depth++;
    else if (">}])".includes(c)) depth--;
    if (c === sep && depth === 0) {
      parts.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

// Returns {t: "scalar"|"any"|"ref"|"array"|"map", ...}.
function parseType(raw) {
  let t = raw.replace(/\s+/g, " ").trim();
  t = stripWrapper(stripWrapper(t, "pulumi.Input"), "pulumi.Output");
  let alts = splitTop(t, "|").filter((a) => a !== "undefined" && a !== "null");
  if (alts.length === 0) return { t: "any" };
  const parsed = alts.map(parseOne);
  if (parsed.length === 1) return parsed[0];
  // A union: collapse when every alternative is a scalar; anything else
  // (e.g. `string | PolicyDocument`) accepts several shapes.
  if (parsed.every((p) => p.t === "scalar")) {
    const kinds = new Set(parsed.map((p) => p.s));
    return kinds.size === 1 ? parsed[0] : { t: "scalar" };
  }
  return { t: "any" };
}

function parseOne(a) {
  a = a.trim();
  while (a.startsWith("(") && a.endsWith(")") && balancedInner(a.slice(1, -1))) a = a.slice(1, -1).trim();
  a = stripWrapper(stripWrapper(a, "pulumi.Input"), "pulumi.Output");
  if (a.endsWith("[]") && balancedInner(a.slice(0, -2))) return { t: "array", items: parseType(a.slice(0, -2)) };
  const m = a.match(/^\{ ?\[key: string\]: (.*?);? ?\}$/);
  if (m) return { t: "map", values: parseType(m[1]) };
  const rec = a.match(/^Record<string, (.*)>$/);
  if (rec) return { t: "map", values: parseType(rec[1]) };
  const ref = a.match(/^(?:inputs|outputs)\.(?:([A-Za-z0-9]+)\.)?([A-Za-z0-9_]+)$/);
  if (ref) return { t: "ref", ref: ref[1] ? `${ref[1]}.${ref[2]}` : ref[2] };
  // `s` is the scalar's JSON kind, used to check literal values.
  if (a === "string" || a === "ARN" || a.startsWith("enums.") || /^"[^"]*"$/.test(a)) return { t: "scalar", s: "string" };
  if (a === "number") return { t: "scalar", s: "number" };
  if (a === "boolean") return { t: "scalar", s: "boolean" };
  return { t: "any" };
}

// ---------- declaration bodies ----------

// Reads the members of an interface or class body starting at lines[start]
// (the line after `{`), until the closing brace at `indent`. Each member is
// {name, optional, type, deprecated, readonly}.
function readMembers(lines, start, indent) {
  const { members, end } = readRawMembers(lines, start, indent);
  return { members: members.map(({ raw, ...m }) => ({ ...m, type: parseType(raw) })), end };
}

function findDecl(lines, re) {
  for (let i = 0; i < lines.length; i++) {
    if (re.test(lines[i])) return i;
  }
  return -1;
}

function deprecationAbove(lines, idx) {
  // The JSDoc block ending right above a declaration.
  let j = idx - 1;
  if (j < 0 || !lines[j].trim().endsWith("*/")) return null;
  let block = [];
  while (j >= 0) {
    block.unshift(lines[j]);
    if (lines[j].trim().startsWith("/**")) break;
    j--;
  }
  const text = block.join("\n");
  const d = text.match(/@deprecated\s*([^\n]*)/);
  return d ? d[1].replace(/\*\/$/, "").trim() || "deprecated" : null;
}

function toProps(members, { inputs }) {
  const props = {};
  for (const m of members) {
    const p = { type: m.type };
    if (inputs && !m.optional) p.required = true;
    if (m.deprecated) p.deprecated = m.deprecated;
    props[m.name] = p;
  }
  return props;
}

// ---------- package walk ----------

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name === "types") continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith(".js")) out.push(p);
  }
  return out;
}

function extractResource(jsFile, js) {
  const m = js.match(/static __pulumiType = '([^']+)';/);
  if (!m) return null;
  const dts = fs.readFileSync(jsFile.replace(/\.js$/, ".d.ts"), "utf8");
  const lines = dts.split("\n");
  const cls = findDecl(lines, /^export declare class [A-Za-z0-9_]+ extends pulumi\.(CustomResource|ProviderResource|ComponentResource)/);
  if (cls < 0) return null;
  const className = lines[cls].match(/class ([A-Za-z0-9_]+)/)[1];
  let token = m[1];
  if (token === "aws" && /ProviderResource/.test(lines[cls])) token = "pulumi:providers:aws";
  const outputs = {};
  for (const mem of readMembers(lines, cls + 1, 0).members) {
    if (!mem.readonly) continue;
    outputs[mem.name] = mem.deprecated ? { deprecated: mem.deprecated } : {};
  }
  const argsIdx = findDecl(lines, new RegExp(`^export interface ${className}Args \\{`));
  const inputs = argsIdx >= 0 ? toProps(readMembers(lines, argsIdx + 1, 0).members, { inputs: true }) : {};
  const res = { inputs, outputs };
  const dep = deprecationAbove(lines, cls);
  if (dep) res.deprecated = dep;
  return { token, res };
}

function extractFunction(jsFile, js) {
  const m = js.match(/pulumi\.runtime\.invoke\("([^"]+)"/);
  if (!m) return null;
  const dts = fs.readFileSync(jsFile.replace(/\.js$/, ".d.ts"), "utf8");
  const lines = dts.split("\n");
  const fnName = m[1].split(":").pop();
  const cap = fnName.charAt(0).toUpperCase() + fnName.slice(1);
  const argsIdx = findDecl(lines, new RegExp(`^export interface ${cap}Args \\{`));
  const resIdx = findDecl(lines, new RegExp(`^export interface ${cap}Result \\{`));
  const fn = {
    inputs: argsIdx >= 0 ? toProps(readMembers(lines, argsIdx + 1, 0).members, { inputs: true }) : {},
    outputs: {},
  };
  if (resIdx >= 0) {
    for (const mem of readMembers(lines, resIdx + 1, 0).members) fn.outputs[mem.name] = {};
  }
  const fnDecl = findDecl(lines, new RegExp(`^export declare function ${fnName}\\(`));
  if (fnDecl >= 0) {
    const dep = deprecationAbove(lines, fnDecl);
    if (dep) fn.deprecated = dep;
  }
  return { token: m[1], fn };
}

function extractInputTypes(pkgDir) {
  const lines = fs.readFileSync(path.join(pkgDir, "types", "input.d.ts"), "utf8").split("\n");
  const types = {};
  let ns = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const nsm = line.match(/^export declare namespace ([A-Za-z0-9]+) \{/);
    if (nsm) {
      ns = nsm[1];
      continue;
    }
    if (line === "}") {
      ns = null;
      continue;
    }
    const top = line.match(/^export interface ([A-Za-z0-9_]+) \{/);
    const inner = line.match(/^    interface ([A-Za-z0-9_]+) \{/);
    if (top && ns === null) {
      const { members, end } = readMembers(lines, i + 1, 0);
      types[top[1]] = toProps(members, { inputs: true });
      i = end;
    } else if (inner && ns !== null) {
      const { members, end } = readMembers(lines, i + 1, 4);
      types[`${ns}.${inner[1]}`] = toProps(members, { inputs: true });
      i = end;
    }
  }
  return types;
}

function writeAtomically(out, text) {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, out);
}

const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

function writeCompact(pkgDir, out, version) {
  const resources = {};
  const functions = {};
  for (const f of walk(pkgDir)) {
    const js = fs.readFileSync(f, "utf8");
    const r = extractResource(f, js);
    if (r) resources[r.token] = r.res;
    const fn = extractFunction(f, js);
    if (fn) functions[fn.token] = fn.fn;
  }
  const types = extractInputTypes(pkgDir);
  const nRes = Object.keys(resources).length;
  if (nRes < 1000 || !resources["aws:s3/bucket:Bucket"] || !resources["pulumi:providers:aws"]) {
    throw new Error(`only ${nRes} resources recognised; the package layout may have changed`);
  }
  const schema = {
    package: "@pulumi/aws",
    version,
    resources: sorted(resources),
    functions: sorted(functions),
    types: sorted(types),
  };
  writeAtomically(out, JSON.stringify(schema));
  process.stderr.write(
    `pulumi-aws-schema: wrote ${out} (${nRes} resources, ${Object.keys(functions).length} functions, ${Object.keys(types).length} types)\n`,
  );
}

// ---------- Pulumi package schema (--pulumi-schema) ----------
//
// The TypeScript SDK is generated from the provider's schema, so the schema
// can be read back from it: a resource class's `readonly x: pulumi.Output<T>`
// members are its output properties (`T | undefined` = optional), its
// `XArgs` interface its inputs, `types/input.d.ts` / `types/output.d.ts` the
// object types (namespace = module), `GetXArgs` / `GetXResult` a function's
// inputs and outputs, `config/vars.d.ts` the provider configuration. What the
// TypeScript cannot tell is approximated: every TS `number` is a schema
// `number` (integers are not distinguished), enums are plain strings, and a
// union of a string with a resource class (`string | Role`) is a string.

const ANY = { $ref: "pulumi.json#/Any" };
const lowerFirst = (s) => s.charAt(0).toLowerCase() + s.slice(1);

// The schema token of TS object type `name` in namespace `ns` (null = top
// level): `aws:ecs/ServiceNetworkConfiguration:ServiceNetworkConfiguration`.
// Function types keep their lower-case `get` (`aws:ecs/getClusterSetting:…`),
// like the provider config's own types (`aws:config/defaultTags:…`).
function typeToken(ns, name) {
  const n = ns === "config" || /^Get[A-Z]/.test(name) ? lowerFirst(name) : name;
  return `aws:${ns ?? "index"}/${n}:${n}`;
}

class SpecParser {
  constructor(typeNames) {
    // typeNames: Set of "ns.Name" / "Name" known in types/*.d.ts
    this.typeNames = typeNames;
    this.unknown = new Map();
    this.refs = new Set();
  }

  ref(ns, name) {
    const key = (n) => (ns ? `${ns}.${n}` : n);
    // `GetXFilterArgs` is the Input-wrapped twin of `GetXFilter` (used by
    // the Output form of a function): the same schema type.
    if (!this.typeNames.has(key(name)) && name.endsWith("Args") && this.typeNames.has(key(name.slice(0, -4)))) {
      name = name.slice(0, -4);
    } else if (name.endsWith("Args") && this.typeNames.has(key(name.slice(0, -4))) && /^Get[A-Z]/.test(name)) {
      name = name.slice(0, -4);
    }
    if (!this.typeNames.has(key(name))) this.note(`${key(name)} (unknown type)`);
    const tok = typeToken(ns, name);
    this.refs.add(tok);
    return { $ref: `#/types/${tok}` };
  }

  note(what) {
    this.unknown.set(what, (this.unknown.get(what) ?? 0) + 1);
  }

  // Returns {spec, optional}: optional when the type admits undefined.
  parse(raw) {
    let t = raw.replace(/\s+/g, " ").trim();
    t = stripWrapper(stripWrapper(t, "pulumi.Input"), "pulumi.Output");
    const alts = splitTop(t, "|");
    const optional = alts.some((a) => a === "undefined" || a === "null");
    const kept = alts.filter((a) => a !== "undefined" && a !== "null");
    if (kept.length === 0) return { spec: { ...ANY }, optional: true };
    return { spec: this.union(kept.map((a) => this.one(a))), optional };
  }

  spec(raw) {
    return this.parse(raw).spec;
  }

  one(a) {
    a = a.trim();
    while (a.startsWith("(") && a.endsWith(")") && balancedInner(a.slice(1, -1))) a = a.slice(1, -1).trim();
    a = stripWrapper(stripWrapper(a, "pulumi.Input"), "pulumi.Output");
    if (a.endsWith("[]") && balancedInner(a.slice(0, -2))) return { type: "array", items: this.spec(a.slice(0, -2)) };
    const arr = a.match(/^Array<(.*)>$/);
    if (arr && balancedInner(arr[1])) return { type: "array", items: this.spec(arr[1]) };
    const m = a.match(/^\{ ?\[key: string\]: (.*?);? ?\}$/);
    if (m) return { type: "object", additionalProperties: this.spec(m[1]) };
    const rec = a.match(/^Record<string, (.*)>$/);
    if (rec) return { type: "object", additionalProperties: this.spec(rec[1]) };
    const ref = a.match(/^(?:inputs|outputs)\.(?:([A-Za-z0-9]+)\.)?([A-Za-z0-9_]+)$/);
    if (ref) return this.ref(ref[1] ?? null, ref[2]);
    if (a === "string" || a === "ARN" || a.startsWith("enums.") || /^"[^"]*"$/.test(a)) return { type: "string" };
    if (a === "number") return { type: "number" };
    if (a === "boolean") return { type: "boolean" };
    if (a === "any") return { ...ANY };
    if (a === "pulumi.asset.Archive") return { $ref: "pulumi.json#/Archive" };
    if (a === "pulumi.asset.Asset") return { $ref: "pulumi.json#/Asset" };
    // A resource class (`Role`, `Topic`) stands for its name or ARN.
    if (/^[A-Z][A-Za-z0-9]*$/.test(a)) return { __resource: a };
    this.note(a);
    return { ...ANY };
  }

  union(specs) {
    const hasString = specs.some((s) => s.type === "string" && Object.keys(s).length === 1);
    let out = specs.map((s) => (s.__resource ? { type: "string" } : s));
    const seen = new Set();
    out = out.filter((s) => {
      const k = JSON.stringify(s);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    // Asset | Archive is the schema's Asset (an asset or an archive).
    if (out.length === 2 && out.some((s) => s.$ref === "pulumi.json#/Asset") && out.some((s) => s.$ref === "pulumi.json#/Archive")) {
      return { $ref: "pulumi.json#/Asset" };
    }
    if (out.length === 1) return out[0];
    // e.g. `string | inputs.iam.PolicyDocument`: a string on the wire.
    return hasString ? { type: "string", oneOf: out } : { oneOf: out };
  }
}

// Interfaces of types/{input,output}.d.ts: Map "ns.Name"|"Name" -> members.
function readTypeDecls(file) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const decls = new Map();
  let ns = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const nsm = line.match(/^export declare namespace ([A-Za-z0-9]+) \{/);
    if (nsm) {
      ns = nsm[1];
      continue;
    }
    if (line === "}") {
      ns = null;
      continue;
    }
    const top = line.match(/^export interface ([A-Za-z0-9_]+) \{/);
    const inner = line.match(/^    interface ([A-Za-z0-9_]+) \{/);
    if (top && ns === null) {
      const { members, end } = readRawMembers(lines, i + 1, 0);
      decls.set(top[1], { ns: null, name: top[1], members });
      i = end;
    } else if (inner && ns !== null) {
      const { members, end } = readRawMembers(lines, i + 1, 4);
      decls.set(`${ns}.${inner[1]}`, { ns, name: inner[1], members });
      i = end;
    }
  }
  return decls;
}

// The members of a body as readMembers reads them, with the raw type text
// (`raw`) instead of the parsed type: the Pulumi schema parses it later,
// once every type name is known.
function readRawMembers(lines, start, indent) {
  const members = [];
  let i = start;
  let deprecated = null;
  const close = " ".repeat(indent) + "}";
  while (i < lines.length) {
    const line = lines[i];
    if (line === close || line.startsWith(close + ";")) return { members, end: i };
    const trimmed = line.trim();
    if (trimmed.startsWith("/**")) {
      let block = trimmed;
      while (!block.includes("*/") && i + 1 < lines.length) block += "\n" + lines[++i];
      const d = block.match(/@deprecated\s*([^\n*]*)/);
      deprecated = d ? d[1].trim() || "deprecated" : null;
      i++;
      continue;
    }
    const m = trimmed.match(/^(readonly\s+)?([A-Za-z_$][A-Za-z0-9_$]*)(\?)?:\s*(.*)$/);
    if (m && !trimmed.startsWith("static ") && !trimmed.startsWith("constructor")) {
      let type = m[4];
      while (!(balancedInner(type) && type.trimEnd().endsWith(";")) && i + 1 < lines.length) {
        type += " " + lines[++i].trim();
      }
      type = type.trimEnd().replace(/;$/, "");
      members.push({ name: m[2], optional: Boolean(m[3]), raw: type, deprecated, readonly: Boolean(m[1]) });
    }
    deprecated = null;
    i++;
  }
  throw new Error("unterminated declaration body");
}

// {properties, required} of members. `secrets`: names marked secret.
function objectSpec(parser, members, secrets = new Set()) {
  const properties = {};
  const required = [];
  for (const m of members) {
    const { spec, optional } = parser.parse(m.raw);
    const p = { ...spec };
    if (m.deprecated) p.deprecationMessage = m.deprecated;
    if (secrets.has(m.name)) p.secret = true;
    properties[m.name] = p;
    if (!m.optional && !optional) required.push(m.name);
  }
  return { properties: sorted(properties), required: required.sort() };
}

function declOf(lines, re) {
  const idx = findDecl(lines, re);
  if (idx < 0) return null;
  return readRawMembers(lines, idx + 1, 0).members;
}

function pulumiResource(parser, jsFile, js) {
  const m = js.match(/static __pulumiType = '([^']+)';/);
  if (!m) return null;
  const lines = fs.readFileSync(jsFile.replace(/\.js$/, ".d.ts"), "utf8").split("\n");
  const cls = findDecl(lines, /^export declare class [A-Za-z0-9_]+ extends pulumi\.(CustomResource|ProviderResource)\b/);
  if (cls < 0) return null;
  const className = lines[cls].match(/class ([A-Za-z0-9_]+)/)[1];
  const isProvider = /ProviderResource/.test(lines[cls]);
  const token = isProvider ? "pulumi:providers:aws" : m[1];
  // Secret inputs are wrapped in pulumi.secret(); secret outputs are listed
  // in additionalSecretOutputs.
  const secretIn = new Set([...js.matchAll(/resourceInputs\["([A-Za-z0-9_]+)"\] = args\?\.[A-Za-z0-9_]+ \? pulumi\.secret\(/g)].map((x) => x[1]));
  const so = js.match(/additionalSecretOutputs: \[([^\]]*)\]/);
  const secretOut = new Set(so ? [...so[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]) : []);
  for (const s of secretIn) secretOut.add(s);
  const outMembers = readRawMembers(lines, cls + 1, 0).members.filter((x) => x.readonly && x.name !== "urn" && x.name !== "id");
  const argMembers = declOf(lines, new RegExp(`^export interface ${className}Args \\{`)) ?? [];
  const outs = objectSpec(parser, outMembers, secretOut);
  const ins = objectSpec(parser, argMembers, secretIn);
  const res = {
    properties: outs.properties,
    required: outs.required,
    inputProperties: ins.properties,
    requiredInputs: ins.required,
  };
  const dep = deprecationAbove(lines, cls);
  if (dep) res.deprecationMessage = dep;
  for (const k of ["required", "requiredInputs"]) if (res[k].length === 0) delete res[k];
  return { token, res };
}

function pulumiFunction(parser, jsFile, js) {
  const m = js.match(/pulumi\.runtime\.invoke\("([^"]+)"/);
  if (!m) return null;
  const lines = fs.readFileSync(jsFile.replace(/\.js$/, ".d.ts"), "utf8").split("\n");
  const fnName = m[1].split(":").pop();
  const cap = fnName.charAt(0).toUpperCase() + fnName.slice(1);
  const fn = {};
  const args = declOf(lines, new RegExp(`^export interface ${cap}Args \\{`));
  if (args) {
    const o = objectSpec(parser, args);
    fn.inputs = { type: "object", properties: o.properties };
    if (o.required.length) fn.inputs.required = o.required;
  }
  const result = declOf(lines, new RegExp(`^export interface ${cap}Result \\{`));
  if (result) {
    const o = objectSpec(parser, result);
    fn.outputs = { type: "object", properties: o.properties };
    if (o.required.length) fn.outputs.required = o.required;
  }
  const fnDecl = findDecl(lines, new RegExp(`^export declare function ${fnName}\\(`));
  if (fnDecl >= 0) {
    const dep = deprecationAbove(lines, fnDecl);
    if (dep) fn.deprecationMessage = dep;
  }
  return { token: m[1], fn };
}

function configVariables(parser, pkgDir) {
  const lines = fs.readFileSync(path.join(pkgDir, "config", "vars.d.ts"), "utf8").split("\n");
  const vars = {};
  let deprecated = null;
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].trim();
    if (t.startsWith("/**")) {
      let block = t;
      while (!block.includes("*/") && i + 1 < lines.length) block += "\n" + lines[++i];
      const d = block.match(/@deprecated\s*([^\n*]*)/);
      deprecated = d ? d[1].trim() || "deprecated" : null;
      continue;
    }
    const m = t.match(/^export declare const ([A-Za-z0-9_]+): (.*);$/);
    if (m) {
      const v = { ...parser.spec(m[2]) };
      if (deprecated) v.deprecationMessage = deprecated;
      vars[m[1]] = v;
    }
    deprecated = null;
  }
  return sorted(vars);
}

function writePulumiSchema(pkgDir, out, version) {
  const inDecls = readTypeDecls(path.join(pkgDir, "types", "input.d.ts"));
  const outDecls = readTypeDecls(path.join(pkgDir, "types", "output.d.ts"));
  const parser = new SpecParser(new Set([...inDecls.keys(), ...outDecls.keys()]));

  // Object types: the union of the input and output views of each type
  // (output views add computed members); required members from the input
  // view where there is one.
  const types = {};
  const byToken = new Map();
  for (const [which, decls] of [["in", inDecls], ["out", outDecls]]) {
    for (const [key, d] of decls) {
      if (d.name.endsWith("Args") && decls.has(key.slice(0, -4))) continue; // Input-wrapped twin
      const tok = typeToken(d.ns, d.name);
      const o = objectSpec(parser, d.members);
      const prev = byToken.get(tok);
      if (!prev) {
        byToken.set(tok, { properties: o.properties, required: o.required, from: which });
      } else {
        prev.properties = sorted({ ...o.properties, ...prev.properties });
      }
    }
  }
  for (const [tok, t] of byToken) {
    const spec = { type: "object", properties: t.properties };
    if (t.required.length) spec.required = t.required;
    types[tok] = spec;
  }

  const resources = {};
  const functions = {};
  let provider = null;
  for (const f of walk(pkgDir)) {
    const js = fs.readFileSync(f, "utf8");
    const r = pulumiResource(parser, f, js);
    if (r && r.token === "pulumi:providers:aws") provider = r.res;
    else if (r) resources[r.token] = r.res;
    const fn = pulumiFunction(parser, f, js);
    if (fn) functions[fn.token] = fn.fn;
  }
  const config = { variables: configVariables(parser, pkgDir) };

  const nRes = Object.keys(resources).length;
  if (nRes < 1000 || !resources["aws:s3/bucket:Bucket"] || !provider) {
    throw new Error(`only ${nRes} resources recognised; the package layout may have changed`);
  }
  const missing = [...parser.refs].filter((t) => !types[t]);
  if (missing.length) throw new Error(`references to undefined types: ${missing.slice(0, 10).join(", ")}`);
  if (parser.unknown.size) {
    const list = [...parser.unknown].sort((a, b) => b[1] - a[1]).slice(0, 20);
    process.stderr.write(`pulumi-aws-schema: TypeScript types read as Any: ${list.map(([k, n]) => `${k} (${n})`).join(", ")}\n`);
  }
  const schema = {
    name: "aws",
    displayName: "AWS",
    version,
    description:
      "A Pulumi package schema read back from the published @pulumi/aws npm package (no descriptions); generated by panka's scripts/pulumi-aws-schema.mjs for its test fixtures.",
    homepage: "https://pulumi.com",
    license: "Apache-2.0",
    repository: "https://github.com/pulumi/pulumi-aws",
    publisher: "Pulumi",
    meta: { moduleFormat: "(.*)(?:/[^/]*)" },
    config,
    provider,
    resources: sorted(resources),
    functions: sorted(functions),
    types: sorted(types),
  };
  writeAtomically(out, JSON.stringify(schema));
  process.stderr.write(
    `pulumi-aws-schema: wrote ${out} (Pulumi schema: ${nRes} resources, ${Object.keys(functions).length} functions, ${Object.keys(types).length} types)\n`,
  );
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const jobs = [];
  // The compact schema is written unless only --pulumi-schema is asked for.
  if (!args.pulumiSchema || args.out) {
    const out = args.out ?? path.join("target", "pulumi-aws-schema", `${args.version}.json`);
    if (fs.existsSync(out)) process.stderr.write(`pulumi-aws-schema: ${out} is cached\n`);
    else jobs.push((dir) => writeCompact(dir, out, args.version));
  }
  if (args.pulumiSchema) {
    const out = args.pulumiSchema;
    if (fs.existsSync(out)) process.stderr.write(`pulumi-aws-schema: ${out} is cached\n`);
    else jobs.push((dir) => writePulumiSchema(dir, out, args.version));
  }
  if (jobs.length === 0) return;
  let pkgDir = args.packageDir;
  let cleanup = null;
  if (!pkgDir) {
    const f = fetchPackage(args.version);
    pkgDir = f.dir;
    cleanup = f.cleanup;
  }
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"));
    if (pkg.name !== "@pulumi/aws" || pkg.version !== args.version) {
      throw new Error(`package at ${pkgDir} is ${pkg.name}@${pkg.version}, expected @pulumi/aws@${args.version}`);
    }
    for (const job of jobs) job(pkgDir);
  } finally {
    if (cleanup) fs.rmSync(cleanup, { recursive: true, force: true });
  }
}

main();
