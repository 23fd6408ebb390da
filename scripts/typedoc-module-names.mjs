// @ts-check
/**
 * TypeDoc plugin: names each entry-point module after the import path users write
 * (`plugboard`, `plugboard/storage/json-file`, `plugboard/testing`) instead of its
 * file path under `src/` (`index`, `storage/json-file`, `testing`).
 */
import { Converter, ReflectionKind } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const project = context.project;
    for (const mod of project.getReflectionsByKind(ReflectionKind.Module)) {
      if (mod.parent !== project) continue;
      mod.name = mod.name === 'index' ? project.name : `${project.name}/${mod.name}`;
    }
  });
}
