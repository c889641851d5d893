import { PNG } from 'pngjs';

export interface IconSpec {
  /** File name inside manifest/icons/ and at the root of the zip. */
  file: string;
  size: number;
  /** Teams' outline icon must be white on a transparent background; the color icon has no such rule. */
  whiteOnTransparent: boolean;
}

export const ICONS = {
  color: { file: 'color.png', size: 192, whiteOnTransparent: false },
  outline: { file: 'outline.png', size: 32, whiteOnTransparent: true },
} as const satisfies Record<'color' | 'outline', IconSpec>;

/** Returns why the PNG breaks Teams' icon rules, or undefined when it is fine. */
export function checkIcon(spec: IconSpec, png: Buffer): string | undefined {
  let image: PNG;
  try {
    image = PNG.sync.read(png);
  } catch (err) {
    return `${spec.file} is not a readable PNG: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (image.width !== spec.size || image.height !== spec.size) {
    return `${spec.file} is ${image.width}×${image.height}; Teams requires ${spec.size}×${spec.size}`;
  }
  if (spec.whiteOnTransparent) {
    let opaque = 0;
    for (let i = 0; i < image.data.length; i += 4) {
      const alpha = image.data[i + 3] ?? 0;
      if (alpha === 0) continue;
      opaque++;
      // Anti-aliased edges are partly transparent but must still be white, or Teams shows a grey fringe.
      const [r, g, b] = [image.data[i] ?? 0, image.data[i + 1] ?? 0, image.data[i + 2] ?? 0];
      if (r < 250 || g < 250 || b < 250) {
        const pixel = i / 4;
        return `${spec.file} has a non-white pixel at (${pixel % image.width}, ${Math.floor(pixel / image.width)}); the outline icon must be white on transparent`;
      }
    }
    if (opaque === 0) return `${spec.file} is fully transparent`;
    if (opaque === image.width * image.height) return `${spec.file} has no transparent background`;
  }
  return undefined;
}
