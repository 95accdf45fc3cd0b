import { html } from '../html.js';

const SPEEDS = [
  [0.5, '½×'],
  [1, '1×'],
  [2, '2×'],
  [4, '4×'],
  [1000, 'instant'],
];

async function send(body) {
  await fetch('/api/playback', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

function fullScreen() {
  document.body.classList.toggle('presenter');
  if (document.fullscreenElement) void document.exitFullscreen();
  else void document.documentElement.requestFullscreen?.().catch(() => undefined);
}

/** The presenter's playback: play or pause, one step, the pace, full screen. */
export function Controls({ playback }) {
  const p = playback ?? { playing: false, speed: 1, next: 0, total: 0 };
  return html`<div class="controls" role="group" aria-label="Playback">
    <button type="button" id="play" onClick=${() => send({ action: p.playing ? 'pause' : 'play' })}>${p.playing ? 'Pause' : 'Play'}</button>
    <button type="button" id="step" onClick=${() => send({ action: 'step' })}>Step</button>
    <label for="speed">Speed</label>
    <select id="speed" value=${String(p.speed)} onChange=${(ev) => send({ action: 'speed', speed: Number(ev.currentTarget.value) })}>
      ${SPEEDS.map(([v, label]) => html`<option value=${String(v)}>${label}</option>`)}
    </select>
    <button type="button" id="fullscreen" onClick=${fullScreen}>Full screen</button>
    <span class="progress" aria-live="off">event ${p.next} of ${p.total}</span>
  </div>`;
}
