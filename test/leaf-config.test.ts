/**
 * The generated leaf-node configs (issue 17): TLS on every link beyond loopback (DESIGN.md, trust boundary 6), the
 * leaf's local listener on loopback only, and message subjects kept off the leaf link (they cross only through the
 * forwarder, in order). No servers: the renderers only.
 */
import { describe, expect, it } from 'vitest';
import { renderLeafConfig, type LeafConfigOptions } from '../services/edge/leaf-config.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { leafnodeBlock } from '../services/trust/leafnode-config.ts';

const leaf: LeafConfigOptions = {
  agencyId: 'xa-coast-guard',
  host: '127.0.0.1',
  port: 4223,
  storeDir: '/var/lib/leaf',
  hubUrl: 'tls://exchange.example.org:7422',
  credsFile: '/agency/nats.creds',
  caFile: '/agency/ca.pem',
  localPassword: 'p',
};

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return isLiaisonError(err) ? err.code : 'untyped';
  }
  return undefined;
}

describe('leaf configs', () => {
  it("the exchange's leafnode listener: TLS with the exchange's certificate; plain only on loopback", () => {
    const tls = leafnodeBlock({ leafnodes: { port: 7422 }, clientHost: '10.0.0.5', tlsFiles: { certFile: '/c.pem', keyFile: '/k.pem' }, handshakeTimeoutS: 2 }).join('\n');
    expect(tls).toContain('listen: "10.0.0.5:7422"');
    expect(tls).toContain('cert_file: "/c.pem"');
    expect(leafnodeBlock({ clientHost: '10.0.0.5', handshakeTimeoutS: 2 })).toEqual([]);
    expect(codeOf(() => leafnodeBlock({ leafnodes: { port: 7422 }, clientHost: '10.0.0.5', handshakeTimeoutS: 2 }))).toBe('ERR_TLS');
    expect(leafnodeBlock({ leafnodes: { port: 7422 }, clientHost: '127.0.0.1', handshakeTimeoutS: 2 }).join('\n')).not.toContain('tls');
    expect(codeOf(() => leafnodeBlock({ leafnodes: { port: 70_000 }, clientHost: '127.0.0.1', handshakeTimeoutS: 2 }))).toBe('ERR_CONFIG_INVALID');
  });

  it("the agency's leaf: its own credentials, the federation CA on the link, message subjects kept off it", () => {
    const text = renderLeafConfig(leaf);
    expect(text).toContain('credentials: "/agency/nats.creds"');
    expect(text).toContain('tls: { ca_file: "/agency/ca.pem"');
    expect(text).toContain('domain: "leaf-xa-coast-guard"');
    for (const t of ['public', 'operational', 'personal', 'special']) expect(text).toContain(`"liaison.v1.${t}.>"`);
  });

  it('refuses a plain link beyond loopback, a local listener beyond loopback, and a URL that is not a leafnode URL', () => {
    const { caFile: _ca, ...plain } = leaf;
    expect(codeOf(() => renderLeafConfig(plain))).toBe('ERR_TLS');
    expect(codeOf(() => renderLeafConfig({ ...plain, hubUrl: 'nats-leaf://127.0.0.1:7422' }))).toBeUndefined();
    expect(codeOf(() => renderLeafConfig({ ...leaf, host: '0.0.0.0' }))).toBe('ERR_TLS');
    expect(codeOf(() => renderLeafConfig({ ...leaf, hubUrl: 'http://exchange.example.org:7422' }))).toBe('ERR_CONFIG_INVALID');
  });
});
