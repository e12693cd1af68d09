// The screening report's script (included in report/index.html by page.rs): the threshold
// slider (labels, counts, the live marks of the charts), the table of every video (sort, filter,
// pages), the cards' pages and players (a click on a timeline bar or a face plays that clip).
// Plain JavaScript: no network, works from file://.
'use strict';
(() => {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const videos = data.videos;
  const $ = (id) => document.getElementById(id);
  const P_MIN = 1e-6;
  const logit = (p) => {
    const q = Math.min(Math.max(p, P_MIN), 1 - P_MIN);
    return Math.log(q / (1 - q));
  };
  const sigmoid = (z) => 1 / (1 + Math.exp(-z));

  // An axis as the charts drew it (scale.rs, Scale::data_attributes).
  const axis = (svg, name) => {
    const d = svg.dataset;
    const spacing = d[name + 'Spacing'];
    const [d0, d1, r0, r1] = ['D0', 'D1', 'R0', 'R1'].map((k) => Number(d[name + k]));
    return (v) => {
      const x = spacing === 'logit' ? logit(v) : v;
      const t = Math.min(Math.max((x - d0) / (d1 - d0), 0), 1);
      return r0 + t * (r1 - r0);
    };
  };

  // ---- threshold, labels and counts ----
  let threshold = data.threshold;
  const label = (v) => (v.score >= threshold ? data.positive : data.negative);
  const outcome = (v) => {
    const flagged = v.score >= threshold;
    if (v.truth === data.positive) return flagged ? 'TP' : 'FN';
    if (v.truth === data.negative) return flagged ? 'FP' : 'TN';
    return '';
  };
  const counts = () => {
    const c = { flagged: 0, TP: 0, FP: 0, TN: 0, FN: 0 };
    for (const v of videos) {
      if (v.score >= threshold) c.flagged += 1;
      const o = outcome(v);
      if (o) c[o] += 1;
    }
    return c;
  };
  const ratio = (a, b) => (a + b === 0 ? '–' : (a / (a + b)).toFixed(3));
  const setText = (id, text) => {
    const el = $(id);
    if (el) el.textContent = text;
  };

  function showThreshold() {
    document.body.dataset.threshold = String(threshold);
    const c = counts();
    setText('n-flagged', String(c.flagged));
    setText('n-tp', String(c.TP));
    setText('n-fp', String(c.FP));
    setText('n-tn', String(c.TN));
    setText('n-fn', String(c.FN));
    setText('precision', ratio(c.TP, c.FP));
    setText('recall', ratio(c.TP, c.FN));
    const roc = $('roc-chart');
    if (roc) {
      const x = axis(roc, 'x');
      const y = axis(roc, 'y');
      const live = $('roc-live');
      live.setAttribute('cx', x(c.FP / Math.max(c.FP + c.TN, 1)).toFixed(2));
      live.setAttribute('cy', y(c.TP / Math.max(c.TP + c.FN, 1)).toFixed(2));
    }
    const hist = $('hist-chart');
    if (hist) {
      const at = axis(hist, 'x')(threshold).toFixed(2);
      const line = $('hist-live');
      line.setAttribute('x1', at);
      line.setAttribute('x2', at);
    }
    for (const svg of document.querySelectorAll('svg.timeline')) {
      const at = axis(svg, 'y')(threshold).toFixed(2);
      for (const line of svg.querySelectorAll('.threshold-live')) {
        line.setAttribute('y1', at);
        line.setAttribute('y2', at);
      }
      for (const bar of svg.querySelectorAll('.bar')) {
        const pos = Number(bar.dataset.p) >= threshold;
        bar.classList.toggle('pos', pos);
        bar.classList.toggle('neg', !pos);
      }
    }
    for (const card of document.querySelectorAll('.card')) {
      const verdict = card.querySelector('.verdict');
      const pos = Number(card.dataset.score) >= threshold;
      verdict.textContent = pos ? data.positive : data.negative;
      verdict.classList.toggle('pos', pos);
      verdict.classList.toggle('neg', !pos);
    }
    renderTable();
  }

  const range = $('t-range');
  const number = $('t-value');
  function setThreshold(t, from) {
    if (!Number.isFinite(t)) return;
    threshold = Math.min(Math.max(t, 0), 1);
    if (from !== 'range') range.value = String(logit(threshold));
    if (from !== 'number') number.value = threshold.toFixed(6);
    showThreshold();
  }
  range.addEventListener('input', () => setThreshold(sigmoid(Number(range.value)), 'range'));
  number.addEventListener('input', () => setThreshold(Number(number.value), 'number'));
  $('t-reset').addEventListener('click', () => setThreshold(data.threshold, ''));

  // ---- the table of every video ----
  const table = $('video-table');
  const body = table.querySelector('tbody');
  const view = { key: 'rank', dir: 1, page: 0 };
  const keyOf = {
    rank: (v) => v.rank,
    id: (v) => v.id,
    path: (v) => v.path,
    clips: (v) => v.clips,
    score: (v) => v.score,
    label: (v) => label(v),
    truth: (v) => v.truth,
    outcome: (v) => outcome(v),
  };
  const cell = (row, text, cls) => {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    if (text instanceof Node) td.append(text);
    else td.textContent = text;
    row.append(td);
    return td;
  };
  const link = (href, text) => {
    const a = document.createElement('a');
    a.href = href;
    a.textContent = text;
    return a;
  };

  function rows() {
    const want = $('f-label').value;
    const truth = $('f-truth') ? $('f-truth').value : '';
    const text = $('f-text').value.trim().toLowerCase();
    const key = keyOf[view.key];
    return videos
      .filter((v) => (!want || label(v) === want) && (!truth || v.truth === truth))
      .filter((v) => !text || v.id.toLowerCase().includes(text) || v.path.toLowerCase().includes(text))
      .sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
        return c * view.dir || a.rank - b.rank;
      });
  }

  function renderTable() {
    const all = rows();
    const size = Number($('page-size').value) || all.length || 1;
    const pages = Math.max(1, Math.ceil(all.length / size));
    view.page = Math.min(view.page, pages - 1);
    const shown = all.slice(view.page * size, (view.page + 1) * size);
    const out = document.createDocumentFragment();
    for (const v of shown) {
      const tr = document.createElement('tr');
      tr.dataset.id = v.id;
      cell(tr, String(v.rank), 'num');
      cell(tr, v.card === null ? v.id : link('#card-' + v.card, v.id));
      const source = cell(tr, v.href ? link(v.href, v.path) : v.path);
      if (v.link === 'missing') source.title = 'not found when the report was written';
      cell(tr, String(v.clips), 'num');
      cell(tr, v.shown, 'num');
      const l = label(v);
      cell(tr, l, 'lab ' + (l === data.positive ? 'pos' : 'neg'));
      cell(tr, v.truth);
      if (data.labelled) {
        const o = outcome(v);
        cell(tr, o, o ? 'outcome-' + o : '');
      }
      out.append(tr);
    }
    body.replaceChildren(out);
    setText('page-no', `${view.page + 1} / ${pages}`);
    setText('row-count', `${all.length} of ${videos.length} videos`);
    $('prev').disabled = view.page === 0;
    $('next').disabled = view.page >= pages - 1;
    for (const th of table.querySelectorAll('th')) {
      if (th.dataset.key === view.key) th.setAttribute('aria-sort', view.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }

  for (const th of table.querySelectorAll('th')) {
    th.querySelector('button').addEventListener('click', () => {
      const key = th.dataset.key;
      // numbers (and the score) highest first on the first click, text A to Z
      view.dir = key === view.key ? -view.dir : ['score', 'clips'].includes(key) ? -1 : 1;
      view.key = key;
      view.page = 0;
      renderTable();
    });
  }
  for (const id of ['f-label', 'f-truth', 'f-text', 'page-size']) {
    const el = $(id);
    if (el) {
      el.addEventListener('input', () => {
        view.page = 0;
        renderTable();
      });
    }
  }
  $('prev').addEventListener('click', () => {
    view.page -= 1;
    renderTable();
  });
  $('next').addEventListener('click', () => {
    view.page += 1;
    renderTable();
  });

  // ---- cards: pages, players ----
  const cards = [...document.querySelectorAll('.card')];
  const CARDS_PER_PAGE = 10;
  let cardPage = 0;
  function showCards() {
    const pages = Math.max(1, Math.ceil(cards.length / CARDS_PER_PAGE));
    cardPage = Math.min(Math.max(cardPage, 0), pages - 1);
    cards.forEach((c, k) => {
      c.hidden = Math.floor(k / CARDS_PER_PAGE) !== cardPage;
    });
    $('card-pager').hidden = pages < 2;
    setText('card-page-no', `${cardPage + 1} / ${pages}`);
    $('card-prev').disabled = cardPage === 0;
    $('card-next').disabled = cardPage >= pages - 1;
  }
  $('card-prev').addEventListener('click', () => {
    cardPage -= 1;
    showCards();
  });
  $('card-next').addEventListener('click', () => {
    cardPage += 1;
    showCards();
  });
  // a link to a card on another page turns to it
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[href^="#card-"]');
    if (!a) return;
    const k = Number(a.getAttribute('href').slice(6));
    if (cards[k]) {
      cardPage = Math.floor(k / CARDS_PER_PAGE);
      showCards();
    }
  });

  // a player loads its video once its card is in view (or a clip is asked for)
  const load = (video) => {
    if (!video.getAttribute('src')) video.src = video.dataset.src;
  };
  const watcher =
    'IntersectionObserver' in window
      ? new IntersectionObserver((entries) => {
          for (const e of entries) {
            if (e.isIntersecting) {
              load(e.target);
              watcher.unobserve(e.target);
            }
          }
        })
      : null;
  for (const card of cards) {
    const video = card.querySelector('video');
    if (!video) continue;
    if (watcher) watcher.observe(video);
    else load(video);
    video.addEventListener('error', () => {
      const note = card.querySelector('.video-note');
      const why = video.error && video.error.code === 4 ? 'its format or codec is not supported here, or the file is not there' : 'it could not be read';
      note.textContent = `This browser cannot play the video (${why}): open it with a video player from the link above.`;
      note.classList.add('warn');
      card.dataset.videoError = String(video.error ? video.error.code : 0);
    });
  }

  // plays one clip: the media fragment #t=start,end of the source
  function play(card, start, end, mark) {
    const video = card.querySelector('video');
    if (!video) return;
    for (const b of card.querySelectorAll('.bar.playing')) b.classList.remove('playing');
    if (mark) mark.classList.add('playing');
    video.dataset.clipStart = String(start);
    video.src = `${video.dataset.base}#t=${start.toFixed(3)},${end.toFixed(3)}`;
    const started = video.play();
    if (started) started.catch(() => {});
  }
  for (const card of cards) {
    for (const el of card.querySelectorAll('.bar, .face[data-start]')) {
      const bar = el.classList.contains('bar') ? el : null;
      const go = () => play(card, Number(el.dataset.start), Number(el.dataset.end), bar);
      el.addEventListener('click', go);
      el.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          go();
        }
      });
    }
  }

  // ---- pictures that did not load ----
  const missing = () => {
    const bad = [...document.images].filter((i) => i.complete && i.naturalWidth === 0);
    $('missing-images').hidden = bad.length === 0;
  };
  for (const img of document.images) img.addEventListener('error', missing);
  if (location.protocol !== 'file:' && videos.some((v) => v.link === 'absolute')) $('served-note').hidden = false;

  showCards();
  setThreshold(threshold, '');
})();
