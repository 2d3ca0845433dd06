// `npm run export` (make slides-pdf): the deck as slides-export.pdf, printed by
// a Chromium or Chrome already on this machine; no browser download needed.
//
//   CHROMIUM_PATH=/path/to/chrome npm run export    # choose the browser
//   npm run export -- --with-clicks                 # extra arguments go to `slidev export`
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
const SLIDEV = join(HERE, 'node_modules', '@slidev', 'cli', 'bin', 'slidev.mjs')

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
]
const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name)
    if (dir && existsSync(candidate))
      return candidate
  }
  return undefined
}

function findBrowser() {
  const chosen = process.env.CHROMIUM_PATH
  if (chosen) {
    if (!existsSync(chosen)) {
      console.error(`CHROMIUM_PATH=${chosen}: no such file.`)
      process.exit(1)
    }
    return chosen
  }
  return CANDIDATES.find(path => existsSync(path)) ?? NAMES.map(onPath).find(Boolean)
}

// A code import whose file or region is missing would print Vite's error overlay (or the whole
// file) on the slide, and the export would still succeed: refuse it before exporting.
function brokenImports() {
  const deck = readFileSync(join(HERE, 'slides.md'), 'utf8')
  const broken = []
  for (const [line, path, region] of deck.matchAll(/^<<<[ \t]*(\S+?)(?:#([\w-]+))?(?:[ \t].*)?$/gm)) {
    const file = path.startsWith('@/') ? resolve(HERE, path.slice(2)) : resolve(HERE, path)
    const marker = new RegExp(`^\\s*(#|//|<!--)\\s*#?region\\s+${region}\\b`, 'm')
    if (!existsSync(file) || (region && !marker.test(readFileSync(file, 'utf8'))))
      broken.push(line)
  }
  return broken
}

const broken = brokenImports()
if (broken.length) {
  console.error(`slides.md: code imports with no such file or region:\n  ${broken.join('\n  ')}`)
  process.exit(1)
}

const browser = findBrowser()
// 2 minutes for the print page (Slidev's default is 30 s: too short on a busy two-core laptop).
const args = ['export', '--timeout', '120000', ...process.argv.slice(2)]
if (browser) {
  console.log(`Exporting with ${browser}`)
  args.push('--executable-path', browser)
}
else {
  // Playwright's own Chromium, if `npx playwright-core install chromium` fetched one.
  console.log('No Chromium or Chrome found (set CHROMIUM_PATH): trying Playwright\'s own browser.')
}
const exportDeck = () => spawnSync(process.execPath, [SLIDEV, ...args], { cwd: HERE, stdio: 'inherit' })
let slidev = exportDeck()
if (slidev.status !== 0) {
  // Slidev waits 30 s for the page to show, a limit it does not let us set (--timeout is the
  // page load's). A fresh clone's first export on a busy laptop can take longer, while Vite
  // transforms the whole deck once; the second export finds it done.
  console.log('The export failed (a busy machine\'s first export can outlast Slidev\'s 30 s): once more.')
  slidev = exportDeck()
}
process.exit(slidev.status ?? 1)
