// Code colours for a projector: GitHub's light high-contrast theme, whose every
// token (comments included) is at least 4.5:1 against the code background.
import { defineShikiSetup } from '@slidev/types'

export default defineShikiSetup(() => ({
  themes: {
    dark: 'github-dark-high-contrast',
    light: 'github-light-high-contrast',
  },
}))
