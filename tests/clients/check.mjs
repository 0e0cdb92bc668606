// Drives the vendors' official clients against leadbridge's simulators:
// the HubSpot Node SDK (@hubspot/api-client) and jsforce for Salesforce.
// Usage: node check.mjs <hubspot-url> <hubspot-token> <salesforce-url> <salesforce-token>
// Each step asserts what the real service would answer; any mismatch exits 1.
import assert from 'node:assert/strict';
import hubspot from '@hubspot/api-client';
import jsforce from 'jsforce';

const [hsUrl, hsToken, sfUrl, sfToken] = process.argv.slice(2);
if (!sfToken) {
  console.error('usage: node check.mjs <hubspot-url> <hubspot-token> <salesforce-url> <salesforce-token>');
  process.exit(2);
}

let steps = 0;
async function step(name, fn) {
  try {
    await fn();
    steps += 1;
    console.log(`ok - ${name}`);
  } catch (err) {
    console.error(`not ok - ${name}: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------- HubSpot
const hs = new hubspot.Client({ accessToken: hsToken, basePath: hsUrl, numberOfApiCallRetries: 0 });
let contactId;

await step('hubspot: create a contact', async () => {
  const created = await hs.crm.contacts.basicApi.create({
    properties: { email: 'sdk.check@example.com', firstname: 'Sdk', lastname: 'Check', company: 'Node SDK' },
    associations: [],
  });
  assert.match(created.id, /^\d+$/);
  assert.equal(created.properties.email, 'sdk.check@example.com');
  contactId = created.id;
});

await step('hubspot: read it back by id and by email', async () => {
  const byId = await hs.crm.contacts.basicApi.getById(contactId, ['email', 'company']);
  assert.equal(byId.properties.company, 'Node SDK');
  const byEmail = await hs.crm.contacts.basicApi.getById('sdk.check@example.com', ['email'], undefined, undefined, false, 'email');
  assert.equal(byEmail.id, contactId);
});

await step('hubspot: search with a filter, sorted, and page to the end', async () => {
  let after;
  let seen = 0;
  let pages = 0;
  do {
    const page = await hs.crm.contacts.searchApi.doSearch({
      filterGroups: [{ filters: [{ propertyName: 'hubspotscore', operator: 'GTE', value: '0' }] }],
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
      properties: ['email', 'hubspotscore'],
      limit: 100,
      after,
    });
    seen += page.results.length;
    pages += 1;
    assert.ok(page.total >= seen);
    after = page.paging?.next?.after;
  } while (after);
  assert.ok(seen >= 250, `expected the seeded contacts, saw ${seen}`);
  assert.ok(pages >= 3);
});

await step('hubspot: list every contact through getAll (list endpoint paging)', async () => {
  const all = await hs.crm.contacts.getAll(100, undefined, ['email']);
  assert.ok(all.length >= 251, `getAll returned ${all.length}`);
  assert.equal(new Set(all.map((c) => c.id)).size, all.length, 'no contact twice');
});

await step('hubspot: batch upsert by email creates once, then updates', async () => {
  const inputs = [0, 1, 2].map((i) => ({
    idProperty: 'email',
    id: `upsert.${i}@example.com`,
    properties: { firstname: `U${i}`, lastname: 'Upsert' },
  }));
  const first = await hs.crm.contacts.batchApi.upsert({ inputs });
  assert.equal(first.results.length, 3);
  const second = await hs.crm.contacts.batchApi.upsert({ inputs });
  assert.deepEqual(
    second.results.map((r) => r.id).sort(),
    first.results.map((r) => r.id).sort(),
    'the second upsert updated the same contacts',
  );
});

// ---------------------------------------------------------------- Salesforce
const sf = new jsforce.Connection({ instanceUrl: sfUrl, accessToken: sfToken, version: '62.0' });
let leadId;

await step('salesforce: create a Lead', async () => {
  const res = await sf.sobject('Lead').create({ LastName: 'Check', Company: 'jsforce', Email: 'jsforce.check@example.com' });
  assert.equal(res.success, true);
  assert.match(res.id, /^00Q[0-9A-Za-z]{15}$/);
  leadId = res.id;
});

await step('salesforce: retrieve it', async () => {
  const lead = await sf.sobject('Lead').retrieve(leadId);
  assert.equal(lead.Company, 'jsforce');
  assert.equal(lead.Id, leadId);
});

await step('salesforce: query with autoFetch pages to the end', async () => {
  const records = [];
  await new Promise((resolve, reject) => {
    sf.query('SELECT Id, Email, SystemModstamp FROM Lead ORDER BY SystemModstamp, Id')
      .on('record', (r) => records.push(r))
      .on('end', resolve)
      .on('error', reject)
      .run({ autoFetch: true, maxFetch: 100000 });
  });
  assert.ok(records.length >= 2501, `query returned ${records.length}`);
  assert.equal(new Set(records.map((r) => r.Id)).size, records.length, 'no Lead twice');
});

await step('salesforce: upsert by External ID creates once, then updates', async () => {
  const rec = { Leadbridge_Id__c: 'jsforce-ext-1', LastName: 'Upsert', Company: 'jsforce' };
  const first = await sf.sobject('Lead').upsert(rec, 'Leadbridge_Id__c');
  assert.equal(first.success, true);
  assert.equal(first.created, true);
  const second = await sf.sobject('Lead').upsert({ ...rec, Company: 'jsforce 2' }, 'Leadbridge_Id__c');
  assert.equal(second.success, true);
  assert.equal(second.created, false);
  const found = await sf.query("SELECT Id, Company FROM Lead WHERE Leadbridge_Id__c = 'jsforce-ext-1'");
  assert.equal(found.totalSize, 1);
  assert.equal(found.records[0].Company, 'jsforce 2');
});

await step('salesforce: sObject collections create with a per-record error', async () => {
  const res = await sf.sobject('Lead').create(
    [
      { LastName: 'Coll A', Company: 'jsforce' },
      { LastName: 'Coll B' },
    ],
    { allOrNone: false },
  );
  assert.equal(res.length, 2);
  assert.equal(res[0].success, true);
  assert.equal(res[1].success, false);
  assert.ok(res[1].errors.length > 0);
});

console.log(`${steps} passed, 0 failed`);
