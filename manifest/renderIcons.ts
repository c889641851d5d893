/**
 * Renders manifest/icons/*.svg to the PNGs the Teams package ships. The SVGs are the source; the PNGs
 * are committed too so that `npm run package` needs no native renderer at deploy time.
 *
 *   node --import tsx manifest/renderIcons.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { ICONS, checkIcon } from './icons';

export function renderIcon(svg: string, size: number): Buffer {
  // fitTo pins the output size even if someone edits the SVG's width/height by mistake.
  const rendered = new Resvg(svg, { fitTo: { mode: 'width', value: size }, background: 'rgba(0,0,0,0)' }).render();
  return Buffer.from(rendered.asPng());
}

function main(): void {
  for (const icon of Object.values(ICONS)) {
    const svgPath = path.join(__dirname, 'icons', icon.file.replace(/\.png$/, '.svg'));
    const png = renderIcon(readFileSync(svgPath, 'utf8'), icon.size);
    const problem = checkIcon(icon, png);
    if (problem) throw new Error(problem);
    const pngPath = path.join(__dirname, 'icons', icon.file);
    writeFileSync(pngPath, png);
    process.stdout.write(`wrote ${path.relative(process.cwd(), pngPath)} (${icon.size}×${icon.size})\n`);
  }
}

if (require.main === module) main();
