// Builds the vendored browser assets into static/vendor/ (git-ignored):
//  - the Twilio Voice JS SDK browser bundle, copied from node_modules (pinned in package.json / package-lock.json);
//  - the SDK's sounds (ringtone, outgoing chime, hang-up tone and the DTMF keys), synthesised here as WAV files;
//  - Chart.js's UMD bundle and licence into static/vendor/chartjs/, for the admin's statistics page.
// The SDK would otherwise fetch its sounds from Twilio's CDN: the console passes these local URLs instead, so
// the page loads nothing from outside our own server. Run with `make console-assets` (after `npm ci`).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sdkDir = join(root, "node_modules", "@twilio", "voice-sdk");
if (!existsSync(join(sdkDir, "dist", "twilio.min.js"))) {
  console.error("console assets: @twilio/voice-sdk is not installed; run `npm ci` first");
  process.exit(1);
}
const chartDir = join(root, "node_modules", "chart.js");
if (!existsSync(join(chartDir, "dist", "chart.umd.min.js"))) {
  console.error("console assets: chart.js is not installed; run `npm ci` first");
  process.exit(1);
}
const sdkVersion = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8")).version;
const chartVersion = JSON.parse(readFileSync(join(chartDir, "package.json"), "utf8")).version;
const outDir = join(root, "static", "vendor", "twilio-voice-sdk");
const soundDir = join(outDir, "sounds");
mkdirSync(soundDir, { recursive: true });

copyFileSync(join(sdkDir, "dist", "twilio.min.js"), join(outDir, "twilio.min.js"));
copyFileSync(join(sdkDir, "LICENSE.md"), join(outDir, "LICENSE.md"));

// The UMD build needs no bundler and carries its one dependency (@kurkle/color) inside; it defines window.Chart.
const chartOut = join(root, "static", "vendor", "chartjs");
mkdirSync(chartOut, { recursive: true });
copyFileSync(join(chartDir, "dist", "chart.umd.min.js"), join(chartOut, "chart.umd.min.js"));
copyFileSync(join(chartDir, "LICENSE.md"), join(chartOut, "LICENSE.md"));

const RATE = 8000;

// segments: [seconds, [frequencies]] pairs; an empty list is silence. Each tone fades in and out over 5 ms so
// the speaker does not click.
function wav(segments, volume = 0.25) {
  const samples = [];
  for (const [seconds, freqs] of segments) {
    const n = Math.round(seconds * RATE);
    const fade = Math.min(40, Math.floor(n / 2));
    for (let i = 0; i < n; i++) {
      let value = 0;
      for (const f of freqs) value += Math.sin((2 * Math.PI * f * i) / RATE) / freqs.length;
      const envelope = Math.min(1, i / fade, (n - 1 - i) / fade);
      samples.push(freqs.length ? Math.round(value * envelope * volume * 32767) : 0);
    }
  }
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => data.writeInt16LE(s, i * 2));
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVE", 8);
  header.write("fmt ", 12);
  header.writeUInt32LE(16, 16); // PCM chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(RATE, 24);
  header.writeUInt32LE(RATE * 2, 28); // bytes per second
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

// The DTMF pairs are the standard's (ITU-T Q.23); the SDK plays them as the agent presses keys.
const LOW = { 1: 697, 2: 697, 3: 697, 4: 770, 5: 770, 6: 770, 7: 852, 8: 852, 9: 852, star: 941, 0: 941, hash: 941 };
const HIGH = { 1: 1209, 2: 1336, 3: 1477, 4: 1209, 5: 1336, 6: 1477, 7: 1209, 8: 1336, 9: 1477, star: 1209, 0: 1336, hash: 1477 };

const sounds = {
  // A double ring (0.4 s on, 0.2 s off, 0.4 s on, 2 s off), looped by the SDK while a call rings.
  incoming: wav([[0.4, [400, 450]], [0.2, []], [0.4, [400, 450]], [2.0, []]]),
  // A rising three-note chime when the agent places a call.
  outgoing: wav([[0.12, [660]], [0.04, []], [0.12, [880]], [0.04, []], [0.2, [1320]]], 0.2),
  // Three short busy-tone beeps when a call ends.
  disconnect: wav([[0.25, [480, 620]], [0.15, []], [0.25, [480, 620]], [0.15, []], [0.25, [480, 620]]]),
};
for (const key of Object.keys(LOW)) sounds[`dtmf-${key}`] = wav([[0.15, [LOW[key], HIGH[key]]], [0.05, []]]);

for (const [name, bytes] of Object.entries(sounds)) writeFileSync(join(soundDir, `${name}.wav`), bytes);
writeFileSync(
  join(outDir, "manifest.json"),
  JSON.stringify(
    {
      sdkVersion,
      sounds: Object.keys(sounds).map((name) => `sounds/${name}.wav`),
      chartJs: { version: chartVersion, file: "../chartjs/chart.umd.min.js" },
    },
    null,
    2,
  ) + "\n",
);
console.log(
  `console assets: @twilio/voice-sdk ${sdkVersion} and ${Object.keys(sounds).length} sounds in ${outDir}; ` +
    `chart.js ${chartVersion} in ${chartOut}`,
);
