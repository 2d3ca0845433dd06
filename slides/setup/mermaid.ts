// Mermaid renders in the browser from the bundled library: no network needed.
// Larger text than Mermaid's default, for a projector.
export default function setupMermaid() {
  return {
    theme: 'neutral',
    themeVariables: {
      fontSize: '18px',
      fontFamily: 'var(--slidev-font-sans, sans-serif)',
    },
    sequence: { mirrorActors: false, useMaxWidth: true },
    flowchart: { useMaxWidth: true },
  }
}
