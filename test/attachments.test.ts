import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Objm } from '@nats-io/obj';
import { agencyJetStream } from '../services/sdk/client/agency-js.ts';
import { fetchAttachment, putAttachment, type AttachmentRef } from '../services/sdk/client/attachments.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { attachmentBucket, attachmentReaders } from '../services/sdk/policy/attachments.ts';
import { compileBuckets, compilePermissions, loadPolicyFile, type Policy } from '../services/sdk/policy/index.ts';
import { loadCatalog } from '../services/sdk/schema/index.ts';
import { objectNameToken } from '../services/sdk/state/object-reader.ts';
import { agencyJsApi } from '../services/sdk/subjects.ts';
import { EXAMPLE_POLICY, createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const READER = 'xb-police';
const BUCKET = attachmentBucket(SENDER, 'ForgeryAlert', 'operational');

function alert(images: AttachmentRef[]) {
  return {
    alertReference: 'XA-FA-2026-05',
    documentType: 'DOCUMENT_TYPE_PASSPORT',
    issuingCountry: 'XBB',
    fraudKind: 'FRAUD_KIND_COUNTERFEIT',
    affectedRanges: [{ series: 'P12', firstNumber: '00000', lastNumber: '49999' }],
    features: ['laminate lifts at the photo corner', 'no UV fibres in the visa pages'],
    detectedAt: 'Port Alba ferry terminal',
    images,
  };
}

describe('attachments: compiled from the policy (who may read a sender’s attachment store)', () => {
  const catalog = typeCatalogOf(loadCatalog());
  let p: Policy;
  beforeAll(async () => {
    p = await loadPolicyFile(EXAMPLE_POLICY, catalog);
  });

  it('readers are exactly the agencies whose ceiling for the type reaches the attachment field’s tier; the NGO and the centre are not', () => {
    expect(attachmentReaders(p, SENDER, 'ForgeryAlert', 'operational')).toEqual(['xa-coast-guard', 'xb-police', 'xc-ncb']);
    expect(attachmentReaders(p, SENDER, 'SpecimenNote', 'operational')).toEqual(['xa-coast-guard', 'xb-police']);
    // An agency that may not send the type has no store to read.
    expect(attachmentReaders(p, 'xa-ngo-harbour', 'ForgeryAlert', 'operational')).toEqual([]);
    expect(compileBuckets(p, catalog).filter((b) => b.name.startsWith('att-')).map((b) => b.bucket)).toEqual([
      BUCKET,
      attachmentBucket(SENDER, 'SpecimenNote', 'operational'),
      attachmentBucket(READER, 'ForgeryAlert', 'operational'),
      attachmentBucket(READER, 'SpecimenNote', 'operational'),
    ]);
  });

  it('a reader gets direct get on the sender’s store and nothing else of it; others get no right at all', () => {
    for (const id of Object.keys(p.agencies)) {
      const pub = compilePermissions(p, id, catalog).pub.allow;
      const onStore = pub.filter((s) => s.includes(`OBJ_${BUCKET}`) || s.includes(`$O.${BUCKET}.`));
      if (id === SENDER) expect(onStore).toContain(`$O.${BUCKET}.>`);
      else if (attachmentReaders(p, SENDER, 'ForgeryAlert', 'operational').includes(id)) {
        expect(onStore.sort(), id).toEqual([agencyJsApi(`DIRECT.GET.OBJ_${BUCKET}`), agencyJsApi(`DIRECT.GET.OBJ_${BUCKET}.>`)]);
      } else expect(onStore, id).toEqual([]);
    }
  });
});

describe('attachments on a real exchange: in the sender’s object store, digest signed, verified on fetch', () => {
  let fed: TestFederation;
  let sender: LiaisonClient;
  let reader: LiaisonClient;
  let ngo: LiaisonClient;
  const got: ReceivedMessage[] = [];
  const big = randomBytes(600_000);
  const small = randomBytes(2_048);
  let refs: AttachmentRef[];
  let sentId: string;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, READER, 'xa-ngo-harbour', 'mac-centre'], name: 'attachments' });
    sender = await fed.connect(SENDER);
    reader = await fed.connect(READER);
    ngo = await fed.connect('xa-ngo-harbour');
    await reader.consume((m) => void got.push(m), { types: ['ForgeryAlert'] });
    refs = [
      await putAttachment(sender, { type: 'ForgeryAlert', bytes: big, mediaType: 'image/png', caption: 'UV view of the data page' }),
      await putAttachment(sender, { type: 'ForgeryAlert', bytes: small, mediaType: 'image/jpeg', caption: 'photo corner' }),
    ];
    sentId = (await sender.send('ForgeryAlert', alert(refs), { to: 'all' })).id;
    await until(() => got.some((m) => m.header.id === sentId), 8_000, 'the forgery alert at the reader');
  }, 60_000);
  afterAll(async () => fed?.stop());

  const received = () => got.find((m) => m.header.id === sentId)!;
  const refsOf = (m: ReceivedMessage) => m.body.images as AttachmentRef[];

  it('the receiver fetches each image from the sender’s store and gets exactly the signed bytes', async () => {
    const m = received();
    expect(refsOf(m).map((r) => [r.bucket, r.mediaType, Number(r.size)])).toEqual([
      [BUCKET, 'image/png', big.length],
      [BUCKET, 'image/jpeg', small.length],
    ]);
    const [a, b] = await Promise.all(refsOf(m).map((ref) => fetchAttachment(reader, { sender: m.header.sender, type: m.type, ref })));
    expect(Buffer.from(a!).equals(big)).toBe(true);
    expect(Buffer.from(b!).equals(small)).toBe(true);
  });

  it('a reference whose signed digest does not match the stored bytes is refused (ERR_ATTACHMENT_DIGEST)', async () => {
    const m = received();
    const ref = refsOf(m)[1]!;
    const wrong = { ...ref, sha256: ref.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
    await expect(fetchAttachment(reader, { sender: SENDER, type: 'ForgeryAlert', ref: wrong })).rejects.toMatchObject({ code: 'ERR_ATTACHMENT_DIGEST' });
  });

  it('an attachment replaced in the store after signing (same size, or another size) is refused', async () => {
    const first = await putAttachment(sender, { type: 'ForgeryAlert', bytes: randomBytes(4_096), mediaType: 'image/png' });
    const second = await putAttachment(sender, { type: 'ForgeryAlert', bytes: randomBytes(4_096), mediaType: 'image/png' });
    const sent = await sender.send('ForgeryAlert', alert([first, second]), { to: 'all' });
    await until(() => got.some((m) => m.header.id === sent.id));
    // The store's owner (or anyone with its rights) swaps the bytes; the store's own checksum is consistent.
    const os = await new Objm(agencyJetStream(sender.nc)).open(BUCKET);
    await os.putBlob({ name: first.object }, randomBytes(4_096));
    await os.putBlob({ name: second.object }, randomBytes(5_000));
    const m = got.find((x) => x.header.id === sent.id)!;
    for (const ref of refsOf(m)) {
      await expect(fetchAttachment(reader, { sender: SENDER, type: 'ForgeryAlert', ref })).rejects.toMatchObject({ code: 'ERR_ATTACHMENT_DIGEST' });
    }
  });

  it('the size bound: refused before storing, and before reading (a declared size above the bound is never fetched)', async () => {
    await expect(putAttachment(sender, { type: 'ForgeryAlert', bytes: randomBytes(2_000), mediaType: 'image/png' }, { maxBytes: 1_000 })).rejects.toMatchObject({ code: 'ERR_ATTACHMENT_TOO_LARGE' });
    const ref = refsOf(received())[0]!;
    await expect(fetchAttachment(reader, { sender: SENDER, type: 'ForgeryAlert', ref }, { maxBytes: 100_000 })).rejects.toMatchObject({ code: 'ERR_ATTACHMENT_TOO_LARGE' });
    // A reference to nothing, declaring 1 GB: refused on its size alone, nothing is read.
    const huge = { ...ref, object: 'no-such-object', size: '1000000000' };
    await expect(fetchAttachment(reader, { sender: SENDER, type: 'ForgeryAlert', ref: huge })).rejects.toMatchObject({ code: 'ERR_ATTACHMENT_TOO_LARGE' });
    await expect(fetchAttachment(reader, { sender: SENDER, type: 'ForgeryAlert', ref: { ...ref, object: 'no-such-object' } })).rejects.toMatchObject({ code: 'ERR_ATTACHMENT_MISSING' });
  });

  it('a reference to a store that is not the signed sender’s own is refused without reading it', async () => {
    const ref = refsOf(received())[0]!;
    for (const bucket of [attachmentBucket(READER, 'ForgeryAlert', 'operational'), 'xc-ncb_snapshots']) {
      await expect(fetchAttachment(reader, { sender: SENDER, type: 'ForgeryAlert', ref: { ...ref, bucket } })).rejects.toMatchObject({ code: 'ERR_ATTACHMENT_MISSING' });
    }
  });

  it('an agency the policy does not let see the alert cannot fetch it: the SDK gets ERR_PERMISSION_DENIED, a raw client is refused by the broker', async () => {
    const ref = refsOf(received())[1]!;
    await expect(fetchAttachment(ngo, { sender: SENDER, type: 'ForgeryAlert', ref })).rejects.toMatchObject({ code: 'ERR_PERMISSION_DENIED' });
    const meta = `$O.${BUCKET}.M.${objectNameToken(ref.object)}`;
    for (const id of ['xa-ngo-harbour', 'mac-centre']) {
      const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs[id]!, id);
      try {
        for (const subject of [agencyJsApi(`DIRECT.GET.OBJ_${BUCKET}.${meta}`), agencyJsApi(`DIRECT.GET.OBJ_${BUCKET}`), `$JS.API.DIRECT.GET.OBJ_${BUCKET}`, agencyJsApi(`STREAM.MSG.GET.OBJ_${BUCKET}`), `$O.${BUCKET}.M.x`]) {
          raw.nc.publish(subject, JSON.stringify({ last_by_subj: meta }));
          expect(await raw.refused(subject), `${id} ${subject}`).toBe(true);
        }
        raw.nc.subscribe(`$O.${BUCKET}.>`);
        expect(await raw.refused(`$O.${BUCKET}.>`)).toBe(true);
      } finally {
        await raw.nc.close();
      }
    }
  });

  it('a reader may read, never write, replace or purge the sender’s store', async () => {
    const ref = refsOf(received())[1]!;
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs[READER]!, READER);
    try {
      const meta = `$O.${BUCKET}.M.${objectNameToken(ref.object)}`;
      const answer = await raw.nc.request(agencyJsApi(`DIRECT.GET.OBJ_${BUCKET}.${meta}`), '', { timeout: 2_000 });
      expect(JSON.parse(answer.string())).toMatchObject({ name: ref.object, size: Number(ref.size) });
      for (const subject of [`$O.${BUCKET}.C.rogue`, `$O.${BUCKET}.M.${objectNameToken(ref.object)}`, agencyJsApi(`STREAM.PURGE.OBJ_${BUCKET}`), agencyJsApi(`CONSUMER.CREATE.OBJ_${BUCKET}`), agencyJsApi(`STREAM.DELETE.OBJ_${BUCKET}`)]) {
        raw.nc.publish(subject, '{}');
        expect(await raw.refused(subject), subject).toBe(true);
      }
    } finally {
      await raw.nc.close();
    }
    // The object is intact for everyone.
    expect(Buffer.from(await fetchAttachment(reader, { sender: SENDER, type: 'ForgeryAlert', ref })).equals(small)).toBe(true);
  });
});
