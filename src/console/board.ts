// The live status board at /console/board: nodes and their sensors, open alerts (with ack / silence buttons that
// send the ordinary commands through the console's command route, so roles, audit and CSRF apply), phones that
// fetched their config in the last hour, MACs that asked and are not provisioned, and the last calls of the
// caller-ID hook with their rooms and hosts. The page polls a JSON endpoint built from the store on every
// request, so any replica answers the same. Same login as the console (the session cookie covers /console).
import { errorReply } from '../util/errors.js';
import type { FastifyInstance } from 'fastify';
import type { App } from '../app-types.js';
import type { ConsoleAuth } from './auth.js';
import { fmtMac } from '../util/mac.js';
import { FONT_STACK } from './page.js';

const STATUS = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;
const HOUR = 3_600_000;

export interface BoardState {
  at: number;
  room: string;
  nodes: { name: string; state: string; lastSeen: number | null; sensors: { name: string; state: string; output: string; at: number | null }[] }[];
  alerts: { id: number; what: string; silenceTarget: string; kind: string; summary: string; openedAt: number; ackedBy: string | null }[];
  phones: { mac: string; extension: string; name: string; room: string | null; ip: string; at: number; file: string | null }[];
  unknown: { mac: string; ip: string; at: number; requests: number; decision: string }[];
  calls: { at: number; number: string; name: string | null; matches: { room: string | null; hostname: string; ip: string; owner: string | null }[] }[];
}

/** Everything the board shows, read from the store (never from one process's memory). */
export async function boardState(app: App): Promise<BoardState> {
  const db = app.db;
  const t = Date.now();
  const nodes = await db.selectFrom('mon_nodes').select(['id', 'name', 'enabled', 'stale', 'last_seen', 'token_hash']).orderBy('name').execute();
  const sensors = await db
    .selectFrom('mon_node_sensors as ns')
    .innerJoin('mon_sensors as s', 's.id', 'ns.sensor_id')
    .leftJoin('mon_sensor_state as st', (j) => j.onRef('st.node_id', '=', 'ns.node_id').onRef('st.sensor_id', '=', 'ns.sensor_id'))
    .select(['ns.node_id', 's.name', 'st.hard_status', 'st.output', 'st.at'])
    .orderBy('s.name')
    .execute();
  const open = await app.services.monitor.alerts.list(false);
  // Both logs are written behind: this process's pending rows first (other replicas flush their own promptly).
  await app.services.callLog?.flush();
  await app.services.provision?.log.flush();
  const since = t - HOUR;
  const reqs = await db
    .selectFrom('provision_requests')
    .select(['mac', 'ip', 'at', 'file', 'decision'])
    .where('at', '>', since)
    .where('mac', 'is not', null)
    .orderBy('at', 'desc')
    .limit(2000)
    .execute();
  const served = new Map<string, (typeof reqs)[number]>();
  const unknown = new Map<string, BoardState['unknown'][number]>();
  for (const r of reqs) {
    const mac = r.mac!;
    if (r.decision === 'served') {
      if (!served.has(mac)) served.set(mac, r);
    } else if (r.decision === 'not_found' || r.decision === 'refused') {
      const u = unknown.get(mac);
      if (u) u.requests++;
      else unknown.set(mac, { mac: fmtMac(mac), ip: r.ip, at: Number(r.at), requests: 1, decision: r.decision === 'not_found' ? 'not provisioned' : 'refused' });
    }
  }
  const phoneRows = served.size
    ? await db
        .selectFrom('phones')
        .select(['mac', 'extension', 'name', 'room'])
        .where('mac', 'in', [...served.keys()].slice(0, 500))
        .execute()
    : [];
  const phoneBy = new Map(phoneRows.map((p) => [p.mac, p]));
  for (const mac of phoneBy.keys()) unknown.delete(fmtMac(mac));
  const calls = await db.selectFrom('calls').select(['at', 'number', 'name', 'matches']).orderBy('id', 'desc').limit(10).execute();
  return {
    at: t,
    room: app.config.console.defaultRoom,
    nodes: nodes.map((n) => {
      const mine = sensors.filter((s) => s.node_id === n.id);
      const worst = Math.max(0, ...mine.map((s) => (s.hard_status === 3 ? 1.5 : (s.hard_status ?? 0))));
      const state = !n.enabled ? 'DISABLED' : !n.token_hash ? 'NOT ENROLLED' : n.stale ? 'STALE' : worst === 0 ? 'OK' : worst === 1.5 ? 'UNKNOWN' : worst === 1 ? 'WARNING' : 'CRITICAL';
      return {
        name: n.name,
        state,
        lastSeen: n.last_seen ?? null,
        sensors: mine.map((s) => ({ name: s.name, state: s.hard_status == null ? 'PENDING' : (STATUS[s.hard_status] ?? 'UNKNOWN'), output: s.output ?? '', at: s.at ?? null })),
      };
    }),
    alerts: open.map((a) => ({
      id: a.id,
      what: a.sensor ? `${a.node}/${a.sensor}` : a.node,
      silenceTarget: a.sensor ? `${a.node}/${a.sensor}` : a.node,
      kind: a.kind,
      summary: a.summary,
      openedAt: Number(a.opened_at),
      ackedBy: a.acked_by,
    })),
    phones: [...served.values()].map((r) => {
      const p = phoneBy.get(r.mac!);
      return { mac: fmtMac(r.mac!), extension: p?.extension ?? '', name: p?.name ?? '', room: p?.room ?? null, ip: r.ip, at: Number(r.at), file: r.file };
    }),
    unknown: [...unknown.values()],
    calls: calls.map((c) => ({
      at: Number(c.at),
      number: c.number,
      name: c.name,
      matches: (JSON.parse(c.matches) as BoardState['calls'][number]['matches']).map((m) => ({ room: m.room ?? null, hostname: m.hostname, ip: m.ip, owner: m.owner ?? null })),
    })),
  };
}

export function registerBoardRoutes(app: App, http: FastifyInstance, auth: ConsoleAuth, cookie: string): void {
  http.get('/console/board', async (_req, reply) => {
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:")
      .send(boardPage());
  });
  http.get('/console/api/board', async (req, reply) => {
    const u = await auth.session(req.cookies[cookie]);
    if (!u) return errorReply(reply, 'SB_CONSOLE_NOT_LOGGED_IN', 'not logged in');
    return reply.header('cache-control', 'no-store').send({ ...(await boardState(app)), csrf: u.csrf, username: u.username });
  });
}

export function boardPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard status board</title>
<style>
*{box-sizing:border-box}
body{margin:0;background:#0b0d12;color:#f4f6fa;font:20px/1.35 ${FONT_STACK}}
header{display:flex;align-items:baseline;gap:24px;padding:14px 24px;border-bottom:2px solid #2a2f3a}
header h1{font-size:30px;margin:0}#updated{color:#c3c9d4;font-size:18px}#note{margin-left:auto;font-size:18px;color:#ffd966}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:18px;padding:18px 24px}
section{background:#151923;border:1px solid #2a2f3a;border-radius:10px;padding:12px 16px;min-width:0;overflow:hidden}
section h2{font-size:24px;margin:0 0 10px}
table{width:100%;border-collapse:collapse;table-layout:auto}
th{text-align:left;color:#c3c9d4;font-weight:600;font-size:17px;padding:4px 8px;border-bottom:1px solid #2a2f3a}
td{padding:6px 8px;border-bottom:1px solid #222733;vertical-align:top;overflow-wrap:break-word}
td.nw,th.nw{white-space:nowrap}
#s-alerts{grid-column:1/-1}
tr[data-state=open] td:first-child{border-left:6px solid #e5484d}tr[data-state=acked] td:first-child{border-left:6px solid #9aa3b2}
.badge{display:inline-block;min-width:6.2em;text-align:center;font-weight:700;border-radius:6px;padding:1px 8px;font-size:18px;letter-spacing:.02em}
.s-OK{background:#1f7a3a;color:#fff}.s-OPEN{background:#e5484d;color:#fff}.s-WARNING{background:#ffd23f;color:#111}.s-CRITICAL{background:#e5484d;color:#fff}
.s-UNKNOWN,.s-PENDING,.s-STALE,.s-DISABLED,.s-NOT{background:#9aa3b2;color:#111}
.node{margin:0 0 10px}.node .n{font-size:22px;font-weight:700;margin-right:10px}
.sensors{display:flex;flex-wrap:wrap;gap:6px 14px;margin-top:4px;font-size:18px}
.sensor{display:flex;gap:6px;align-items:center}
.mut{color:#c3c9d4}
button{white-space:nowrap;font:inherit;font-size:18px;border:2px solid #8ab4ff;background:#1a2340;color:#fff;border-radius:8px;padding:4px 12px;cursor:pointer;margin:2px 4px 2px 0}
button:disabled{opacity:.5;cursor:default}
.empty{color:#c3c9d4;font-style:italic}
#login{display:none;padding:40px 24px;font-size:24px}#login a{color:#8ab4ff}
.room{font-weight:700;color:#ffd966}
</style></head><body>
<header><h1>Switchboard status</h1><span id="updated" aria-live="polite">loading…</span><span id="note" role="status"></span></header>
<div id="login">Not logged in. <a href="/console">Log in on the console</a>, then come back to this page.</div>
<main id="board">
<section id="s-alerts"><h2>Open alerts</h2><div id="alerts"></div></section>
<section id="s-nodes"><h2>Nodes and sensors</h2><div id="nodes"></div></section>
<section id="s-calls"><h2>Last calls (caller ID)</h2><div id="calls"></div></section>
<section id="s-phones"><h2>Phones that fetched in the last hour</h2><div id="phones"></div><h2 style="margin-top:14px">Unknown MACs asking for a config</h2><div id="unknown"></div></section>
</main>
<script>
(function(){
var $=function(id){return document.getElementById(id)};
function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;return e}
function badge(s){return el('span','badge s-'+String(s).split(' ')[0],s)}
function ago(ms,now){if(!ms)return 'never';var s=Math.max(0,Math.round((now-ms)/1000));if(s<60)return s+' s ago';if(s<3600)return Math.round(s/60)+' min ago';if(s<86400)return Math.round(s/3600)+' h ago';return Math.round(s/86400)+' d ago'}
function table(head,rows,nw){nw=nw||[];if(!rows.length)return null;var t=el('table');var tr=el('tr');head.forEach(function(h,i){var th=el('th',nw[i]?'nw':null,h);th.scope='col';tr.appendChild(th)});var th=el('thead');th.appendChild(tr);t.appendChild(th);var tb=el('tbody');rows.forEach(function(r){var row=el('tr');r.forEach(function(c,i){var td=el('td',nw[i]?'nw':null);if(c&&c.nodeType)td.appendChild(c);else td.textContent=c==null?'':c;row.appendChild(td)});tb.appendChild(row)});t.appendChild(tb);return t}
function fill(id,node,empty){var box=$(id);box.textContent='';box.appendChild(node||el('div','empty',empty))}
var state=null;
function send(text,btn){
  if(!state)return; btn.disabled=true; $('note').textContent='Sending: '+text;
  var fd=new FormData();fd.append('room',state.room);fd.append('text',text);
  fetch('/console/api/command',{method:'POST',body:fd,credentials:'same-origin',headers:{'x-csrf-token':state.csrf}}).then(function(r){
    $('note').textContent=r.ok?('Sent "'+text+'"; the answer is in #'+state.room):('Refused: HTTP '+r.status); setTimeout(load,300);
  },function(){$('note').textContent='Could not send; the server is unreachable'; btn.disabled=false});
}
function draw(d){
  state=d; var now=d.at;
  $('updated').textContent='Updated '+new Date(d.at).toLocaleTimeString();
  fill('alerts',table(['#','what','since','state','summary',''],d.alerts.map(function(a){
    var act=el('span');
    if(!a.ackedBy){var b=el('button','ack','Ack');b.dataset.alert=a.id;b.setAttribute('aria-label','Acknowledge alert '+a.id);b.onclick=function(){send('ack '+a.id+' from the status board',b)};act.appendChild(b)}
    var s=el('button','silence','Silence 1 h');s.setAttribute('aria-label','Silence '+a.silenceTarget+' for one hour');s.onclick=function(){send('silence '+a.silenceTarget+' 1h from the status board',s)};act.appendChild(s);
    var st=a.ackedBy?el('span','mut','acked by '+a.ackedBy):badge('OPEN');
    var row=[String(a.id),a.what,ago(a.openedAt,now),st,a.summary,act];return row}),[1,1,1,1,0,1]),'No open alerts.');
  var rows=$('alerts').querySelectorAll('tbody tr');d.alerts.forEach(function(a,i){if(rows[i]){rows[i].id='alert-'+a.id;rows[i].dataset.state=a.ackedBy?'acked':'open'}});
  var nodes=el('div');d.nodes.forEach(function(n){var box=el('div','node');box.appendChild(el('span','n',n.name));box.appendChild(badge(n.state));box.appendChild(el('span','mut',' seen '+ago(n.lastSeen,now)));
    var ss=el('div','sensors');n.sensors.forEach(function(s){var x=el('span','sensor');x.title=s.output;x.appendChild(el('span',null,s.name));x.appendChild(badge(s.state));ss.appendChild(x)});box.appendChild(ss);nodes.appendChild(box)});
  fill('nodes',d.nodes.length?nodes:null,'No monitored nodes.');
  fill('calls',table(['when','number','room · host'],d.calls.map(function(c){var m=el('div');if(!c.matches.length)m.appendChild(el('span','mut','no matching host'));c.matches.forEach(function(h){var l=el('div');l.appendChild(el('span','room','room '+(h.room||'-')));l.appendChild(document.createTextNode(' · '+h.hostname+' · '+h.ip+(h.owner?' · '+h.owner:'')));m.appendChild(l)});return [ago(c.at,now),c.number+(c.name?' ('+c.name+')':''),m]}),[1,1,0]),'No calls yet.');
  fill('phones',table(['ext','name','room','address','fetched'],d.phones.map(function(p){return [p.extension,p.name,p.room||'',p.ip,ago(p.at,now)]}),[1,0,0,1,1]),'No phone fetched its config in the last hour.');
  fill('unknown',table(['MAC','address','asked','last'],d.unknown.map(function(u){return [u.mac,u.ip,u.requests+'×, '+u.decision,ago(u.at,now)]}),[1,1,0,1]),'None.');
}
function load(){
  fetch('/console/api/board',{credentials:'same-origin'}).then(function(r){
    if(r.status===401){$('login').style.display='block';$('board').style.display='none';$('updated').textContent='';return}
    return r.json().then(function(d){$('login').style.display='none';$('board').style.display='grid';draw(d)});
  }).catch(function(){$('updated').textContent='Connection lost; retrying…'});
}
load(); setInterval(load,2000);
})();
</script></body></html>`;
}
