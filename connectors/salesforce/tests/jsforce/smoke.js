// A cross-client smoke test: jsforce 3 against the Salesforce simulator.
// Start a fresh simulator with 5000 seeded Leads:
//   cargo run -p leadbridge-salesforce --features simulator --example serve -- 127.0.0.1:0 5000
// then, with `npm install jsforce@3` done here:  node smoke.js http://127.0.0.1:PORT
// Checked with jsforce 3.10.16: create, retrieve (single and composite),
// update, upsert by External ID (201 then 200), collection create with a
// per-record error, query with autoFetch to the end, queryMore, COUNT(),
// destroy, queryAll (scanAll), describe, limits / Sforce-Limit-Info, a
// MALFORMED/INVALID_FIELD error, a composite request with references
// (raw request), and the OAuth2 refresh-token flow.
const jsforce = require('jsforce');
(async () => {
  const url = process.argv[2];
  const conn = new jsforce.Connection({ instanceUrl: url, accessToken: 'sim-session-00DDn00000000001', version: '62.0' });
  const ok = (c, m) => { if (!c) { console.error('FAIL', m); process.exitCode = 1; } else console.log('ok', m); };
  const r = await conn.sobject('Lead').create({ LastName: 'Js', Company: 'Force', Email: 'js@force.example' });
  ok(r.success && r.id, 'create ' + JSON.stringify(r));
  const got = await conn.sobject('Lead').retrieve(r.id);
  ok(got.LastName === 'Js', 'retrieve');
  const many = await conn.sobject('Lead').retrieve([r.id]);
  ok(many.length === 1 && many[0].Id === r.id, 'retrieve many (composite, describe for fields)');
  const u = await conn.sobject('Lead').update({ Id: r.id, Title: 'CTO' });
  ok(u.success, 'update ' + JSON.stringify(u));
  const up1 = await conn.sobject('Lead').upsert({ Leadbridge_Id__c: 'js-1', LastName: 'Ups', Company: 'X' }, 'Leadbridge_Id__c');
  ok(up1.success && up1.created === true, 'upsert create ' + JSON.stringify(up1));
  const up2 = await conn.sobject('Lead').upsert({ Leadbridge_Id__c: 'js-1', Title: 'VP' }, 'Leadbridge_Id__c');
  ok(up2.success && up2.created === false, 'upsert update ' + JSON.stringify(up2));
  const recs = Array.from({ length: 150 }, (_, i) => ({ LastName: 'Bulk' + i, Company: 'B' }));
  recs.push({ FirstName: 'NoLast' });
  const cr = await conn.sobject('Lead').create(recs);
  ok(cr.length === 151 && cr.filter(x => x.success).length === 150 && cr[150].errors[0].statusCode === 'REQUIRED_FIELD_MISSING', 'collection create with per-record error ' + JSON.stringify(cr[150]));
  const seen = [];
  const all = await conn.query('SELECT Id, Name, SystemModstamp FROM Lead ORDER BY SystemModstamp').on('record', r => seen.push(r.Id)).run({ autoFetch: true, maxFetch: 100000 });
  ok(seen.length >= 5150 && new Set(seen).size === seen.length, 'query autoFetch to the end: ' + seen.length + ' totalSize ' + (all && all.totalSize));
  const res = await conn.query('SELECT Id FROM Lead');
  ok(res.done === false && res.nextRecordsUrl, 'first batch not done: ' + res.records.length + ' ' + res.nextRecordsUrl);
  const more = await conn.queryMore(res.nextRecordsUrl);
  ok(more.records.length > 0, 'queryMore: ' + more.records.length);
  const cnt = await conn.query('SELECT COUNT() FROM Lead WHERE Email LIKE \'%@force.example\'');
  ok(cnt.totalSize === 1, 'count ' + cnt.totalSize);
  const d = await conn.sobject('Lead').destroy(r.id);
  ok(d.success, 'destroy');
  const qa = await conn.query('SELECT Id, IsDeleted FROM Lead WHERE IsDeleted = true', { scanAll: true });
  ok(qa.totalSize === 1, 'queryAll sees the deleted ' + qa.totalSize);
  const desc = await conn.sobject('Lead').describe();
  ok(desc.fields.some(f => f.name === 'Leadbridge_Id__c' && f.externalId), 'describe');
  const lim = await conn.limits();
  ok(lim.DailyApiRequests.Max > 0, 'limits ' + JSON.stringify(lim.DailyApiRequests) + ' limitInfo ' + JSON.stringify(conn.limitInfo));
  try { await conn.query('SELECT Nope FROM Lead'); ok(false, 'bad query'); } catch (e) { ok(e.errorCode === 'INVALID_FIELD', 'bad query error ' + e.errorCode); }
  // Composite (jsforce has no helper; a raw request, as its users send it)
  const comp = await conn.request({ method: 'POST', url: '/services/data/v62.0/composite', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ allOrNone: false, compositeRequest: [
    { method: 'POST', url: '/services/data/v62.0/sobjects/Lead', referenceId: 'newLead', body: { LastName: 'Comp', Company: 'Osite' } },
    { method: 'GET', url: '/services/data/v62.0/sobjects/Lead/@{newLead.id}?fields=LastName', referenceId: 'got' },
    { method: 'PATCH', url: '/services/data/v62.0/composite/sobjects', referenceId: 'coll', body: { allOrNone: false, records: [{ attributes: { type: 'Lead' }, id: '@{newLead.id}', Title: 'Composite' }] } },
  ] }) });
  ok(comp.compositeResponse.length === 3 && comp.compositeResponse[0].httpStatusCode === 201 && comp.compositeResponse[1].body.LastName === 'Comp' && comp.compositeResponse[2].body[0].success === true, 'composite with references ' + JSON.stringify(comp.compositeResponse.map(e => e.httpStatusCode)));
  // OAuth refresh through jsforce
  const c2 = new jsforce.Connection({ oauth2: { clientId: 'sim-client', clientSecret: 'sim-secret', loginUrl: url }, instanceUrl: url, refreshToken: 'sim-rt-initial', version: '62.0' });
  let refreshed = null; c2.on('refresh', (at, res) => { refreshed = res; });
  const q2 = await c2.query('SELECT Id FROM Lead LIMIT 3');
  ok(q2.records.length === 3 && refreshed && !('expires_in' in refreshed) && refreshed.instance_url === url, 'oauth refresh on 401 ' + JSON.stringify(refreshed && Object.keys(refreshed)));
})().catch(e => { console.error('ERROR', e); process.exitCode = 1; });
