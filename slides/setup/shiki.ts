// Code colours for a projector: GitHub's light high-contrast theme, whose every
// token (comments included) is at least 4.5:1 against the code background.
// The deck is light only (colorSchema: light): no dark theme to load.
import { defineShikiSetup } from '@slidev/types'

export default defineShikiSetup(() => ({
  theme: 'github-light-high-contrast',
}))
