"""Style sheet and script of the listening report (plain CSS and JavaScript, no network).

The script (:data:`SCRIPT`) gives the page its keyboard A/B: one player is *active* per page;
switching to another player of the same clip carries the playback position over (and keeps
playing if the previous one was). It also counts the players whose ``duration`` is known after
loading and any failed load or script error into ``#status`` (``data-ready``, ``data-total``,
``data-errors``) and ``#errors``, which the headless-browser test reads; :data:`EARLY_SCRIPT`
runs in ``<head>`` so that errors of the later script are caught too.
"""

from __future__ import annotations

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em auto;max-width:1400px;padding:0 1em;
color:#222;background:#fafafa}
h1{font-size:1.5em}h2{font-size:1.15em;margin:1.6em 0 .4em}
table.summary{border-collapse:collapse;font-size:13px}
table.summary td,table.summary th{border:1px solid #ccc;padding:2px 6px;text-align:right}
table.summary td:first-child,table.summary th:first-child{text-align:left}
.takes{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:8px}
.take{background:#fff;border:2px solid #ddd;border-radius:6px;padding:6px;cursor:pointer}
.take.active{border-color:#d33}
.take .name{font-weight:600}.take kbd{background:#eee;border-radius:3px;padding:0 4px}
.take .measures{font-size:12px;color:#555;min-height:1.4em}
.take audio{width:100%;height:32px;margin:3px 0}
.take .error{color:#b00}
.pic{position:relative;line-height:0}.pic img{width:100%;height:auto;image-rendering:auto}
.pic .cursor{position:absolute;top:0;bottom:0;width:2px;background:#0f0;left:0;display:none}
.take.active .pic .cursor{display:block}
.diff-img{display:none}body.diff .diff-img{display:block}body.diff .spec-img.has-diff{display:none}
.legend img{vertical-align:middle;height:12px;width:200px}
#status{font-weight:600}#status.bad{color:#b00}
pre.info{background:#fff;border:1px solid #ddd;padding:6px;white-space:pre-wrap;font-size:12px}
.help kbd{background:#eee;border-radius:3px;padding:0 4px}
"""

EARLY_SCRIPT = """
window.aecErrors = [];
window.addEventListener("error", function (e) {
  var t = e.target, what;
  if (t && t !== window && t.tagName) {
    what = "failed to load <" + t.tagName.toLowerCase() + "> " + (t.id || "");
  } else {
    what = "script error: " + (e.message || "unknown") + " (line " + (e.lineno || "?") + ")";
  }
  window.aecErrors.push(what);
  if (window.aecShowStatus) window.aecShowStatus();
}, true);
window.addEventListener("unhandledrejection", function (e) {
  var r = e.reason;
  if (r && r.name === "AbortError") return;  /* play() interrupted by pause(): harmless */
  window.aecErrors.push("unhandled rejection: " + String(r));
  if (window.aecShowStatus) window.aecShowStatus();
});
"""

SCRIPT = """
(function () {
  "use strict";
  var clips = Array.prototype.slice.call(document.querySelectorAll("section.clip"));
  var audios = Array.prototype.slice.call(document.querySelectorAll("audio"));
  var status = document.getElementById("status");
  var ready = 0;
  var active = null;

  function show() {
    var errs = window.aecErrors;
    status.dataset.ready = String(ready);
    status.dataset.total = String(audios.length);
    status.dataset.errors = String(errs.length);
    status.textContent = "Players ready: " + ready + " of " + audios.length +
      (errs.length ? "; " + errs.length + " error(s) below" : "");
    status.className = errs.length ? "bad" : "";
    var list = document.getElementById("errors");
    list.innerHTML = "";
    errs.forEach(function (m) {
      var li = document.createElement("li"); li.textContent = m; list.appendChild(li);
    });
  }
  window.aecShowStatus = show;

  function loaded(a) {
    if (a.dataset.duration || !isFinite(a.duration) || !(a.duration > 0)) return;
    a.dataset.duration = a.duration.toFixed(3);
    ready += 1;
    show();
  }
  audios.forEach(function (a) {
    a.addEventListener("loadedmetadata", function () { loaded(a); });
    a.addEventListener("durationchange", function () { loaded(a); });
    if (a.readyState >= 1) loaded(a);
  });

  function takesOf(clip) {
    return Array.prototype.slice.call(clip.querySelectorAll(".take"));
  }
  function audioOf(take) { return take ? take.querySelector("audio") : null; }

  function select(take, opts) {
    if (!take || take === active) return;
    var prev = active, pa = audioOf(prev), na = audioOf(take);
    var sameClip = prev && prev.closest("section.clip") === take.closest("section.clip");
    var playing = pa && !pa.paused;
    if (prev) prev.classList.remove("active");
    take.classList.add("active");
    active = take;
    if (pa && pa !== na) {
      if (sameClip && na) na.currentTime = pa.currentTime;  /* A/B at the same position */
      pa.pause();
      if (playing && na && !(opts && opts.fromPlay)) na.play();
    }
    if (opts && opts.scroll) take.scrollIntoView({block: "nearest"});
  }

  function move(dt, dc) {
    var clip = active ? active.closest("section.clip") : clips[0];
    if (!clip) return;
    var ci = clips.indexOf(clip), takes = takesOf(clip);
    var ti = active ? takes.indexOf(active) : 0;
    if (dc) {
      clip = clips[Math.max(0, Math.min(clips.length - 1, ci + dc))];
      takes = takesOf(clip);
      select(takes[Math.min(ti, takes.length - 1)], {scroll: true});
    } else {
      select(takes[(ti + dt + takes.length) % takes.length], {scroll: true});
    }
  }

  clips.forEach(function (clip) {
    takesOf(clip).forEach(function (take) {
      var a = audioOf(take), pic = take.querySelector(".pic");
      take.addEventListener("click", function (e) {
        if (e.target.tagName !== "AUDIO") select(take, {});
      });
      if (!a) return;
      a.addEventListener("play", function () {
        if (active !== take) select(take, {fromPlay: true});
        audios.forEach(function (o) { if (o !== a && !o.paused) o.pause(); });
      });
      a.addEventListener("timeupdate", function () {
        var c = take.querySelector(".cursor");
        if (c && a.duration > 0) c.style.left = (100 * a.currentTime / a.duration) + "%";
      });
      if (pic) pic.addEventListener("click", function (e) {
        e.stopPropagation();  /* select first (which carries the old position), then seek */
        select(take, {});
        var r = pic.getBoundingClientRect();
        if (a.duration > 0) a.currentTime = a.duration * (e.clientX - r.left) / r.width;
      });
    });
  });

  window.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var k = e.key, clip = active ? active.closest("section.clip") : clips[0];
    if (!clip) return;
    if (/^[0-9]$/.test(k)) {
      var i = k === "0" ? 9 : Number(k) - 1, takes = takesOf(clip);
      if (i < takes.length) select(takes[i], {scroll: true});
    } else if (k === "j" || k === "ArrowDown") { move(1, 0);
    } else if (k === "k" || k === "ArrowUp") { move(-1, 0);
    } else if (k === "n") { move(0, 1);
    } else if (k === "p") { move(0, -1);
    } else if (k === "d") { document.body.classList.toggle("diff");
    } else if (k === " ") {
      if (!active) select(takesOf(clip)[0], {});
      var a = audioOf(active);
      if (a) { if (a.paused) a.play(); else a.pause(); }
    } else { return; }
    e.preventDefault();
  }, true);

  document.getElementById("diff-toggle").addEventListener("click", function () {
    document.body.classList.toggle("diff");
  });
  if (clips.length) select(takesOf(clips[0])[0], {});
  show();
})();
"""
