// The repository's QR code, made at build time from the headmatter's
// `repository:` in slides.md: `import { url, svg } from 'virtual:repository-qr'`.
// uqr (unjs, no dependencies, also what Slidev itself uses) encodes it offline.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { renderSVG } from 'uqr'
import type { Plugin } from 'vite'

const ID = 'virtual:repository-qr'
// The backup screenshots' captions, read here: Vite warns when code imports from public/.
const MANIFEST_ID = 'virtual:backup-manifest'
const MANIFEST = fileURLToPath(new URL('./public/backup/manifest.json', import.meta.url))
const DECK = fileURLToPath(new URL('./slides.md', import.meta.url))

export function repositoryUrl(deck: string): string {
  const headmatter = deck.split(/^---\s*$/m)[1] ?? ''
  const url = headmatter.match(/^repository:\s*['"]?(\S+?)['"]?\s*$/m)?.[1]
  if (!url)
    throw new Error('slides.md: the headmatter has no `repository:` (see slides/README.md)')
  return url
}

function repositoryQr(): Plugin {
  return {
    name: 'repository-qr',
    resolveId(id) {
      return id === ID || id === MANIFEST_ID ? `\0${id}` : undefined
    },
    load(id) {
      if (id === `\0${MANIFEST_ID}`) {
        this.addWatchFile(MANIFEST)
        return `export default ${readFileSync(MANIFEST, 'utf8')}`
      }
      if (id !== `\0${ID}`)
        return undefined
      this.addWatchFile(DECK)
      const url = repositoryUrl(readFileSync(DECK, 'utf8'))
      const svg = renderSVG(url, { border: 1, ecc: 'M' })
      return `export const url = ${JSON.stringify(url)}\nexport const svg = ${JSON.stringify(svg)}\n`
    },
  }
}

export default {
  plugins: [repositoryQr()],
}
