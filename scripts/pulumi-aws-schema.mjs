#!/usr/bin/env node
// Extracts a compact resource schema from the published npm package
// `@pulumi/aws` so that panka can check the Pulumi YAML programs it emits
// against the real provider: type tokens, input properties (with required
// markers), output properties, nested input types and deprecation markers.
//
// Usage: node scripts/pulumi-aws-schema.mjs [--version 7.x.y] [--out FILE]
//        [--package-dir DIR]   (an already unpacked package, for offline use)
//
// The output is cached: when FILE exists it is left alone (delete it to
// regenerate). Default FILE: target/pulumi-aws-schema/<version>.json.
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
  const args = { version: DEFAULT_VERSION, out: null, packageDir: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--version") args.version = argv[++i];
    else if (a === "--out") args.out = argv[++i];
    else if (a === "--package-dir") args.packageDir = argv[++i];
    else if (a === "-h" || a === "--help") {
      process.stdout.write("usage: pulumi-aws-schema.mjs [--version V] [--out FILE] [--package-dir DIR]\n");
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
      members.push({
        name: m[2],
        optional: Boolean(m[3]),
        type: parseType(type),
        deprecated,
        readonly: Boolean(m[1]),
      });
    }
    deprecated = null;
    i++;
  }
  throw new Error("unterminated declaration body");
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

function main() {
  const args = parseArgs(process.argv.slice(2));
  const out = args.out ?? path.join("target", "pulumi-aws-schema", `${args.version}.json`);
  if (fs.existsSync(out)) {
    process.stderr.write(`pulumi-aws-schema: ${out} is cached\n`);
    return;
  }
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
    const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
    const schema = {
      package: "@pulumi/aws",
      version: args.version,
      resources: sorted(resources),
      functions: sorted(functions),
      types: sorted(types),
    };
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const tmp = `${out}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(schema));
    fs.renameSync(tmp, out);
    process.stderr.write(
      `pulumi-aws-schema: wrote ${out} (${nRes} resources, ${Object.keys(functions).length} functions, ${Object.keys(types).length} types)\n`,
    );
  } finally {
    if (cleanup) fs.rmSync(cleanup, { recursive: true, force: true });
  }
}

main();
