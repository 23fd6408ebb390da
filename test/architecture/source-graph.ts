/**
 * Reads `src/**` with the TypeScript parser (no type checking) and reports what the
 * architecture tests check: the import graph, file and function sizes, module-level
 * `let`s.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const srcDir: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** One parsed source file, by its path relative to `src/` (`rules/engine.ts`). */
export interface SourceFile {
  readonly path: string;
  readonly lines: number;
  readonly ast: ts.SourceFile;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return walk(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every `.ts` file under `src/`, parsed. */
export function readSources(): SourceFile[] {
  return walk(srcDir)
    .sort()
    .map((full) => {
      const text = readFileSync(full, 'utf8');
      const ast = ts.createSourceFile(full, text, ts.ScriptTarget.ES2022, true);
      return {
        path: relative(srcDir, full).split('\\').join('/'),
        lines: ast.getLineStarts().length,
        ast,
      };
    });
}

/** The `src/`-relative files a file imports (static, re-exports and dynamic `import('…')`), type-only ones included. */
export function importsOf(file: SourceFile): string[] {
  const found = new Set<string>();
  const add = (specifier: string): void => {
    if (!specifier.startsWith('.')) return;
    const target = resolve(dirname(join(srcDir, file.path)), specifier).replace(/\.js$/, '.ts');
    found.add(relative(srcDir, target).split('\\').join('/'));
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier.text);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) add(arg.literal.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file.ast);
  return [...found].sort();
}

/** A function-like node with its name and its span in lines. */
export interface FunctionSpan {
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

function nameOf(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name && (ts.isIdentifier(named.name) || ts.isPrivateIdentifier(named.name)))
    return named.name.text;
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name))
    return parent.name.text;
  if (parent && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name))
    return parent.name.text;
  if (parent && ts.isPropertyDeclaration(parent) && ts.isIdentifier(parent.name))
    return parent.name.text;
  return '(anonymous)';
}

/** Every function, method, accessor and arrow function of a file, with its length in lines. */
export function functionsOf(file: SourceFile): FunctionSpan[] {
  const spans: FunctionSpan[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && (node as { body?: ts.Node }).body) {
      const start = file.ast.getLineAndCharacterOfPosition(node.getStart(file.ast)).line;
      const end = file.ast.getLineAndCharacterOfPosition(node.getEnd()).line;
      spans.push({ name: nameOf(node), line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(file.ast);
  return spans;
}

/** Names declared with `let` or `var` at the top level of a file. */
export function moduleLevelLets(file: SourceFile): string[] {
  return file.ast.statements.flatMap((statement) => {
    if (!ts.isVariableStatement(statement)) return [];
    if (statement.declarationList.flags & ts.NodeFlags.Const) return [];
    return statement.declarationList.declarations.map((d) => d.name.getText(file.ast));
  });
}
