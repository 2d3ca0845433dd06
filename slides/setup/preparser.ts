// `@readme edit: NAME {meta}` on a line of slides.md becomes the code block that follows
// `<!-- edit: NAME ... -->` in the repository's README (demo 6's change and its fix): the slide
// shows the very lines the guide asks the presenter to type, which tests/test_demo_6.py applies.
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { definePreparserSetup } from '@slidev/types'

const LINE = /^@readme (edit|expect): ([\w-]+)\s*(\{.*\})?\s*$/

export default definePreparserSetup(({ filepath }) => [{
  transformRawLines(lines) {
    const readme = readFileSync(resolve(dirname(filepath), '../README.md'), 'utf8').replace(/\r\n/g, '\n')
    for (let i = 0; i < lines.length; i++) {
      const found = lines[i].match(LINE)
      if (!found)
        continue
      const [, kind, name, meta = ''] = found
      const block = readme.match(new RegExp(`<!-- ${kind}: ${name}\\b.*-->\\n\`\`\`(\\w+)\\n([\\s\\S]*?)\\n\`\`\``))
      if (!block)
        throw new Error(`slides.md: the README has no block <!-- ${kind}: ${name} -->`)
      const code = block[2].split('\n')
      const indent = Math.min(...code.filter(l => l.trim()).map(l => l.length - l.trimStart().length))
      lines.splice(i, 1, `\`\`\`${block[1]} ${meta}`, ...code.map(l => l.slice(indent)), '```')
    }
  },
}])
