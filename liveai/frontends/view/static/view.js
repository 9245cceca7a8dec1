// liveai live view: draws the frames the server sends and sends param changes (never code).
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const PAST_BEATS = 8, AHEAD_BEATS = 4, KEEP_BEATS = 32, SEND_EVERY_MS = 33;

  const state = {
    frame: null, schema: {}, notes: new Map(), human: [], frames: 0, frameTimes: [],
    lastError: "", controlsOk: 0, connected: false, closeCode: null, closeReason: "",
  };
  window.liveaiView = state;           // for tests and the curious: what the page has received

  // ---- colours: one per voice, stable across pages ------------------------------------------
  const colours = new Map();
  function colour(voice) {
    if (!colours.has(voice)) {
      let h = 0;
      for (const ch of voice) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
      colours.set(voice, `hsl(${h % 360}, 70%, 60%)`);
    }
    return colours.get(voice);
  }

  // ---- the socket ----------------------------------------------------------------------------
  let ws = null;
  function connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws?token=${encodeURIComponent(token)}`;
    ws = new WebSocket(url);
    ws.onopen = () => { state.connected = true; setConn("live", "up"); };
    ws.onclose = (ev) => {
      state.connected = false; state.closeCode = ev.code; state.closeReason = ev.reason;
      if (ev.code === 4403) { setConn("refused: " + (ev.reason || "wrong token"), "down"); showError("refused: wrong or missing token; open the URL liveai printed"); return; }
      setConn("disconnected", "down");
      setTimeout(connect, 1000);
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.t === "frame") onFrame(msg);
      else if (msg.t === "error") showError(msg.message);
      else if (msg.t === "ok") { state.controlsOk += 1; clearError(); }
    };
  }
  function setConn(text, cls) { const c = $("conn"); c.textContent = text; c.className = "conn " + cls; }
  function showError(message) { state.lastError = message; const e = $("err"); e.textContent = message; e.hidden = false; }
  function clearError() { $("err").hidden = true; }

  // ---- frames --------------------------------------------------------------------------------
  function onFrame(f) {
    const now = performance.now();
    state.frames += 1;
    state.frameTimes.push(now);
    while (state.frameTimes.length && state.frameTimes[0] < now - 1000) state.frameTimes.shift();
    if (f.schema) { state.schema = f.schema; buildAgents(); }
    for (const n of f.notes || []) {
      const [seq, beat, pitch, vel, dur, voice, human] = n;
      if (human) state.human.push({ beat, pitch, vel, dur, voice });
      else state.notes.set(`${voice}|${beat}|${pitch}`, { beat, pitch, vel, dur, voice });
    }
    const oldest = f.now - KEEP_BEATS;
    for (const [k, n] of state.notes) if (n.beat < oldest) state.notes.delete(k);
    state.human = state.human.filter((n) => n.beat >= oldest);
    state.frame = f;
    $("pos").textContent = `${f.bar}:${f.beat}`;
    $("bpm").textContent = f.bpm;
    $("state").textContent = f.state;
    $("late").textContent = f.late;
    $("maxlate").textContent = f.max_late_ms;
    $("xruns").textContent = f.xruns;
    $("cpu").textContent = Math.round(f.cpu);
    $("fps").textContent = state.frameTimes.length;
    updateAgents(f.agents || {});
  }

  // ---- piano roll ----------------------------------------------------------------------------
  function draw() {
    requestAnimationFrame(draw);
    const f = state.frame;
    if (!f) return;
    const roll = $("roll"), g = roll.getContext("2d");
    const W = roll.width, H = roll.height;
    const t0 = f.now - PAST_BEATS, span = PAST_BEATS + AHEAD_BEATS;
    const x = (b) => ((b - t0) / span) * W;
    const played = Array.from(state.notes.values()).filter((n) => n.beat + n.dur >= t0);
    const upcoming = (f.upcoming || []).map(([beat, pitch, vel, dur, voice]) => ({ beat, pitch, vel, dur, voice }));
    const all = played.concat(upcoming);
    let lo = 48, hi = 84;
    if (all.length) { lo = Math.min(...all.map((n) => n.pitch)) - 2; hi = Math.max(...all.map((n) => n.pitch)) + 2; }
    const rowH = H / Math.max(hi - lo + 1, 12);
    const y = (p) => H - (p - lo + 1) * rowH;
    g.clearRect(0, 0, W, H);
    g.strokeStyle = "#222833";
    const bpb = f.beats_per_bar || 4;
    for (let b = Math.ceil(t0); b <= t0 + span; b++) {
      g.globalAlpha = b % bpb === 0 ? 1 : 0.4;
      g.beginPath(); g.moveTo(x(b), 0); g.lineTo(x(b), H); g.stroke();
    }
    g.globalAlpha = 1;
    for (const n of played) {
      g.fillStyle = colour(n.voice);
      g.globalAlpha = 0.35 + 0.65 * (n.vel / 127);
      g.fillRect(x(n.beat), y(n.pitch), Math.max(2, (n.dur / span) * W - 1), Math.max(2, rowH - 1));
    }
    g.globalAlpha = 1;
    for (const n of upcoming) {
      g.strokeStyle = colour(n.voice);
      g.strokeRect(x(n.beat), y(n.pitch), Math.max(2, (n.dur / span) * W - 1), Math.max(2, rowH - 1));
    }
    g.strokeStyle = "#fff"; g.beginPath(); g.moveTo(x(f.now), 0); g.lineTo(x(f.now), H); g.stroke();
    drawHuman(x, t0, span);
    const legend = $("legend");
    const names = f.voices.join("|");
    if (legend.dataset.names !== names) {
      legend.dataset.names = names;
      legend.innerHTML = "";
      for (const v of f.voices) {
        const s = document.createElement("span");
        s.style.setProperty("--c", colour(v)); s.textContent = v + (f.muted.includes(v) ? " (muted)" : "");
        legend.appendChild(s);
      }
    }
  }
  function drawHuman(x, t0, span) {
    const c = $("human"), g = c.getContext("2d"), W = c.width, H = c.height;
    g.clearRect(0, 0, W, H);
    const open = new Map();
    const spans = [];
    for (const n of state.human) {             // a note ends at its note-off (velocity 0) or its duration
      if (n.vel === 0) { const s = open.get(n.pitch); if (s) { s.end = n.beat; open.delete(n.pitch); } continue; }
      const s = { beat: n.beat, end: n.beat + n.dur, pitch: n.pitch, vel: n.vel }; spans.push(s); open.set(n.pitch, s);
    }
    for (const s of spans) {
      g.fillStyle = "#f5f5f5"; g.globalAlpha = 0.4 + 0.6 * (s.vel / 127);
      const yy = H - ((s.pitch % 48) / 48) * (H - 4) - 4;
      g.fillRect(x(s.beat), yy, Math.max(2, ((s.end - s.beat) / span) * W), 4);
    }
    g.globalAlpha = 1;
  }

  // ---- agents: sliders for every param, an XY pad for interp ---------------------------------
  const pending = new Map();    // "agent|param" -> value waiting for its send slot
  let lastSend = 0, sendTimer = null;
  function send(agent, values) {
    for (const [p, v] of Object.entries(values)) pending.set(`${agent}|${p}`, v);
    if (sendTimer) return;
    const wait = Math.max(0, lastSend + SEND_EVERY_MS - performance.now());
    sendTimer = setTimeout(flush, wait);
  }
  function flush() {
    sendTimer = null; lastSend = performance.now();
    const byAgent = {};
    for (const [k, v] of pending) { const [a, p] = k.split("|"); (byAgent[a] = byAgent[a] || {})[p] = v; }
    pending.clear();
    for (const [agent, values] of Object.entries(byAgent))
      if (ws && ws.readyState === 1) ws.send(JSON.stringify({ t: "set", agent, values }));
  }
  window.liveaiSend = send;

  function buildAgents() {
    const box = $("agents");
    box.innerHTML = "";
    for (const [name, a] of Object.entries(state.schema)) {
      const card = document.createElement("div");
      card.className = "agent"; card.id = `agent-${name}`; card.dataset.kind = a.kind;
      card.innerHTML = `<h3>${escape(name)} <small>(${escape(a.kind)})</small></h3><div class="live" id="live-${name}"></div>`;
      if (a.kind === "interp") {
        const pad = document.createElement("canvas");
        pad.className = "xy"; pad.id = `xy-${name}`; pad.width = 220; pad.height = 220;
        card.appendChild(pad);
        hookPad(pad, name);
      }
      for (const [p, [lo, hi, what]] of Object.entries(a.params)) {
        const row = document.createElement("div");
        row.className = "param"; row.title = what;
        const choices = (a.choices || {})[p];
        const control = choices
          ? `<select id="s-${name}-${p}">${choices.map((c, i) => `<option value="${i}">${escape(c)}</option>`).join("")}</select>`
          : `<input type="range" id="s-${name}-${p}" min="${lo}" max="${hi}" step="${(hi - lo) / 1000}">`;
        row.innerHTML = `<label>${escape(p)}</label>${control}` +
                        `<input type="text" id="v-${name}-${p}" title="type a value, Enter sends it">`;
        const slider = row.querySelector(choices ? "select" : "input[type=range]"), text = row.querySelector("input[type=text]");
        slider.addEventListener(choices ? "change" : "input", () => { text.value = slider.value; send(name, { [p]: parseFloat(slider.value) }); });
        text.addEventListener("keydown", (ev) => {
          if (ev.key !== "Enter") return;
          const v = text.value.trim();
          const num = Number(v);
          send(name, { [p]: v !== "" && Number.isFinite(num) ? num : v });
          text.blur();
        });
        card.appendChild(row);
      }
      box.appendChild(card);
    }
  }
  function hookPad(pad, name) {
    let down = false;
    const move = (ev) => {
      const r = pad.getBoundingClientRect();
      const px = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
      const py = Math.min(1, Math.max(0, 1 - (ev.clientY - r.top) / r.height));
      pad.dataset.want = `${px.toFixed(3)},${py.toFixed(3)}`;
      send(name, { x: +px.toFixed(4), y: +py.toFixed(4) });
    };
    pad.addEventListener("pointerdown", (ev) => { down = true; pad.setPointerCapture(ev.pointerId); move(ev); });
    pad.addEventListener("pointermove", (ev) => { if (down) move(ev); });
    pad.addEventListener("pointerup", () => { down = false; });
  }
  function updateAgents(agents) {
    for (const [name, a] of Object.entries(agents)) {
      const kind = (state.schema[name] || {}).kind;
      for (const [p, v] of Object.entries(a.params || {})) {
        const s = $(`s-${name}-${p}`), t = $(`v-${name}-${p}`);
        if (s && document.activeElement !== s) s.value = s.tagName === "SELECT" ? String(Math.round(v)) : v;
        if (t && document.activeElement !== t) t.value = +v.toFixed(3);
      }
      const live = a.live || {}, el = $(`live-${name}`);
      if (!el) continue;
      if (live.error) { el.textContent = live.error; continue; }
      if (kind === "drums") el.textContent = `amount ${fmt(live.amount)}  feel ${fmt(live.feel)} (${live.feel_name})`;
      else if (kind === "duet") el.textContent = `mode ${live.mode}\nheard  ${names(live.heard)}\nanswer ${names(live.answer)}`;
      else if (kind === "interp") { el.textContent = `at (${fmt(live.x)}, ${fmt(live.y)})  walk ${fmt(live.walk)}`; drawPad(name, live); }
    }
  }
  function drawPad(name, live) {
    const pad = $(`xy-${name}`);
    if (!pad) return;
    const g = pad.getContext("2d"), W = pad.width, H = pad.height;
    g.clearRect(0, 0, W, H);
    g.fillStyle = "#889"; g.font = "10px sans-serif";
    const c = live.corners || [];
    const label = (i, x, y, align) => { if (c[i]) { g.textAlign = align; g.fillText(c[i].slice(0, 24), x, y); } };
    if (live.four) { label(0, 4, H - 4, "left"); label(1, W - 4, H - 4, "right"); label(2, 4, 12, "left"); label(3, W - 4, 12, "right"); }
    else { label(0, 4, H / 2, "left"); label(1, W - 4, H / 2, "right"); }
    const px = live.x * W, py = (1 - (live.four ? live.y : 0.5)) * H;
    g.fillStyle = "#ffd34d"; g.beginPath(); g.arc(px, py, 7, 0, 2 * Math.PI); g.fill();
  }
  const NOTE = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
  function names(notes) { return (notes || []).slice(-16).map((n) => NOTE[n[1] % 12] + (Math.floor(n[1] / 12) - 1)).join(" ") || "-"; }
  function fmt(v) { return typeof v === "number" ? v.toFixed(2) : String(v); }
  function escape(s) { return String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`); }

  connect();
  requestAnimationFrame(draw);
})();
