import { Agent, request } from 'node:http';

/**
 * A lean HTTP POST for the benchmarks: node:http over keep-alive sockets. fetch (undici) costs about as much
 * CPU per request as a signed send, which would be charged to the gateway when client and gateway share a thread.
 */
export function keepAlivePoster(maxSockets: number): (url: string, body: string | undefined, headers: Record<string, string>) => Promise<{ status: number; text: string }> {
  const agent = new Agent({ keepAlive: true, maxSockets });
  return (url, body, headers) =>
    new Promise((resolve, reject) => {
      const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': body === undefined ? 0 : Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
}
