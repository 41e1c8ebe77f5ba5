import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChirpClient, ChirpError, openChirp } from '@copilot/storage';
import { startChirp, type ChirpServer } from '@test/harness';

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function rejection(promise: Promise<unknown>): Promise<ChirpError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ChirpError);
  return error as ChirpError;
}

describe('Chirp client against the real chirp_server', () => {
  let chirp: ChirpServer;
  let owner: ChirpClient;
  let work: string;

  beforeAll(async () => {
    chirp = await startChirp();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-chirp-client-'));
    owner = await openChirp(chirp.host, chirp.port, { auth: ['unix'], timeoutMs: 10_000 });
  });

  afterAll(async () => {
    owner?.close();
    await chirp?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('authenticates the owner with unix and an agent with address', async () => {
    expect(owner.subject).toBe(chirp.ownerSubject);
    expect(await owner.whoami()).toBe(chirp.ownerSubject);
    const agent = await openChirp(chirp.host, chirp.port);
    try {
      expect(agent.subject).toBe('address:127.0.0.1');
      expect(await agent.whoami()).toBe('address:127.0.0.1');
    } finally {
      agent.close();
    }
    // hostname: the reverse DNS name of 127.0.0.1, whatever this machine calls it.
    const named = await openChirp(chirp.host, chirp.port, { auth: ['hostname'] });
    expect(named.subject).toMatch(/^hostname:\S+$/);
    named.close();
  });

  it('puts and gets a 5 MB binary file unchanged', async () => {
    const source = path.join(work, 'big.bin');
    fs.writeFileSync(source, crypto.randomBytes(5 * 1024 * 1024));
    await owner.mkdir('/round-trip');
    expect(await owner.putFile(source, '/round-trip/big.bin')).toBe(5 * 1024 * 1024);
    const copy = path.join(work, 'big.copy');
    expect(await owner.getFile('/round-trip/big.bin', copy, 6 * 1024 * 1024)).toBe(5 * 1024 * 1024);
    expect(sha256(copy)).toBe(sha256(source));
    const stat = await owner.stat('/round-trip/big.bin');
    expect(stat).toMatchObject({ size: 5 * 1024 * 1024, isFile: true, isDirectory: false });
    // An empty file is a valid transfer too.
    const empty = path.join(work, 'empty');
    fs.writeFileSync(empty, '');
    expect(await owner.putFile(empty, '/round-trip/empty')).toBe(0);
    expect(await owner.getFile('/round-trip/empty', path.join(work, 'empty.copy'), 0)).toBe(0);
  });

  it('makes directories, stats them and lists them (names with spaces, % and UTF-8 too)', async () => {
    await owner.mkdir('/listing');
    await owner.mkdir('/listing/sub dir');
    const odd = `100% "odd" <name> {ü} ~'`;
    const local = path.join(work, 'odd');
    fs.writeFileSync(local, 'odd content');
    await owner.putFile(local, `/listing/${odd}`);
    await owner.putFile(local, '/listing/plain.txt');

    expect(await owner.stat('/listing/sub dir')).toMatchObject({ isDirectory: true });
    const entries = await owner.listDir('/listing');
    expect(entries.map((entry) => entry.name).sort()).toEqual([odd, 'plain.txt', 'sub dir'].sort());
    const plain = entries.find((entry) => entry.name === 'plain.txt');
    expect(plain?.stat).toMatchObject({ size: 11, isFile: true });
    expect(fs.readFileSync(path.join(chirp.rootDir, 'listing', odd), 'utf8')).toBe('odd content');

    const back = path.join(work, 'odd.back');
    await owner.getFile(`/listing/${odd}`, back, 100);
    expect(fs.readFileSync(back, 'utf8')).toBe('odd content');

    const exists = await rejection(owner.mkdir('/listing/sub dir'));
    expect(exists.code).toBe('EEXIST');
  });

  it('refuses a file over the cap before writing a byte, and leaves no partial file', async () => {
    const source = path.join(work, 'capped');
    fs.writeFileSync(source, crypto.randomBytes(300_000));
    await owner.putFile(source, '/capped.bin');

    const target = path.join(work, 'cap-target');
    fs.mkdirSync(target);
    const client = await openChirp(chirp.host, chirp.port, { auth: ['unix'] });
    try {
      const error = await rejection(client.getFile('/capped.bin', path.join(target, 'f'), 299_999));
      expect(error.code).toBe('EFBIG');
      expect(error.fromServer).toBe(false);
      expect(fs.readdirSync(target)).toEqual([]);
      // The server was still sending the file: that connection is closed, not reused.
      expect((await rejection(client.whoami())).code).toBe('ECONNRESET');
    } finally {
      client.close();
    }
  });

  it('turns a missing file into ENOENT and keeps the connection usable', async () => {
    const target = path.join(work, 'missing-target');
    fs.mkdirSync(target);
    const error = await rejection(owner.getFile('/no/such/file', path.join(target, 'x'), 1000));
    expect(error).toMatchObject({ code: 'ENOENT', serverResult: -3, fromServer: true });
    expect(error.message).toMatch(/getfile \/no\/such\/file: no such file/);
    expect(fs.readdirSync(target)).toEqual([]);
    expect((await rejection(owner.stat('/no-such-dir'))).code).toBe('ENOENT');
    expect(await owner.whoami()).toBe(chirp.ownerSubject);

    // A local file that is not there fails locally; the connection is not touched either.
    const local = await rejection(owner.putFile(path.join(work, 'absent'), '/absent'));
    expect(local.code).toBe('EIO');
    expect(await owner.whoami()).toBe(chirp.ownerSubject);
  });

  it('lets an agent into a job directory only once setacl grants it, and rmall cleans up', async () => {
    await owner.mkdir('/jobs');
    await owner.mkdir('/jobs/job-1');
    await owner.mkdir('/jobs/job-2');
    const output = path.join(work, 'stdout');
    fs.writeFileSync(output, 'the result is 4\n');

    const agent = await openChirp(chirp.host, chirp.port, { auth: ['address'] });
    try {
      expect((await rejection(agent.putFile(output, '/jobs/job-1/stdout'))).code).toBe('EACCES');

      await owner.setAcl('/jobs/job-1', 'address:127.0.0.1', 'rwl');
      expect(await owner.getAcl('/jobs/job-1')).toContainEqual({
        subject: 'address:127.0.0.1',
        rights: expect.stringMatching(/^rwl/) as unknown as string,
      });

      expect(await agent.putFile(output, '/jobs/job-1/stdout')).toBe(16);
      const fetched = path.join(work, 'stdout.fetched');
      await agent.getFile('/jobs/job-1/stdout', fetched, 1000);
      expect(fs.readFileSync(fetched, 'utf8')).toBe('the result is 4\n');
      expect((await agent.listDir('/jobs/job-1')).map((entry) => entry.name)).toEqual(['stdout']);

      // Only that directory, and no admin or delete rights in it.
      expect((await rejection(agent.putFile(output, '/jobs/job-2/stdout'))).code).toBe('EACCES');
      expect((await rejection(agent.setAcl('/jobs/job-1', 'address:*', 'rwlda'))).code).toBe(
        'EACCES',
      );
      expect((await rejection(agent.rmall('/jobs/job-1'))).code).toBe('EACCES');

      await owner.setAcl('/jobs/job-1', 'address:127.0.0.1', 'n');
      expect((await rejection(agent.getFile('/jobs/job-1/stdout', fetched, 1000))).code).toBe(
        'EACCES',
      );
    } finally {
      agent.close();
    }

    await owner.rmall('/jobs');
    expect((await rejection(owner.stat('/jobs'))).code).toBe('ENOENT');
    expect(fs.existsSync(path.join(chirp.rootDir, 'jobs'))).toBe(false);
  });

  it('unlinks files and removes empty directories', async () => {
    const local = path.join(work, 'one');
    fs.writeFileSync(local, '1');
    await owner.mkdir('/tidy');
    await owner.putFile(local, '/tidy/one');
    expect((await rejection(owner.rmdir('/tidy'))).code).toBe('ENOTEMPTY');
    await owner.unlink('/tidy/one');
    await owner.rmdir('/tidy');
    expect((await rejection(owner.stat('/tidy'))).code).toBe('ENOENT');
  });

  it('refuses calls before authentication without asking the server', async () => {
    const client = await ChirpClient.connect(chirp.host, chirp.port);
    try {
      expect((await rejection(client.stat('/'))).code).toBe('EACCES');
      await client.authenticate(['address']);
      expect(await client.whoami()).toBe('address:127.0.0.1');
    } finally {
      client.close();
    }
  });
});

/** A fake Chirp server: accepts `address` authentication, then runs `onRequest` per line. */
async function fakeChirp(
  onRequest: (line: string, socket: net.Socket) => void,
  auth = 'yes\nyes\nyes\naddress\n127.0.0.1\n',
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let authenticated = false;
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let at = pending.indexOf('\n'); at >= 0; at = pending.indexOf('\n')) {
        const line = pending.slice(0, at);
        pending = pending.slice(at + 1);
        if (!authenticated) {
          authenticated = true;
          socket.write(auth);
        } else onRequest(line, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('Chirp client against a misbehaving server', () => {
  let work: string;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-chirp-bad-'));
  });

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('reports a server that closes mid-reply as ECONNRESET and leaves no partial file', async () => {
    const server = await fakeChirp((_line, socket) => {
      socket.end('100\n0123456789');
    });
    const client = await openChirp('127.0.0.1', server.port);
    try {
      const error = await rejection(client.getFile('/f', path.join(work, 'f'), 1000));
      expect(error.code).toBe('ECONNRESET');
      expect(error.message).toMatch(/getfile \/f: .*closed the connection in mid-reply/);
      expect(fs.readdirSync(work)).toEqual([]);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('refuses malformed replies, overlong lines and silence', async () => {
    const server = await fakeChirp((line, socket) => {
      if (line.startsWith('stat ')) socket.write('zero\n');
      else if (line.startsWith('getlongdir ')) socket.write(`0\n${'x'.repeat(8_000)}`);
      // whoami: no answer at all
    });
    try {
      const garbled = await openChirp('127.0.0.1', server.port);
      expect((await rejection(garbled.stat('/'))).code).toBe('EPROTO');
      garbled.close();

      const flooded = await openChirp('127.0.0.1', server.port);
      const long = await rejection(flooded.listDir('/'));
      expect(long.code).toBe('EPROTO');
      expect(long.message).toMatch(/longer than 1024 bytes/);
      flooded.close();

      const silent = await openChirp('127.0.0.1', server.port, { timeoutMs: 300 });
      expect((await rejection(silent.whoami())).code).toBe('ETIMEDOUT');
      silent.close();
    } finally {
      await server.close();
    }
  });

  it('fails authentication cleanly when every method is refused', async () => {
    const server = await fakeChirp(() => undefined, 'no\n');
    try {
      const error = await rejection(openChirp('127.0.0.1', server.port, { auth: ['address'] }));
      expect(error.code).toBe('EACCES');
      expect(error.message).toMatch(/accepted none of the authentication methods address/);
    } finally {
      await server.close();
    }
  });

  it('never creates a unix challenge file outside a challenge path', async () => {
    const bait = path.join(work, 'planted');
    const seen: string[] = [];
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('latin1').split('\n').filter(Boolean)) {
          seen.push(line);
          if (line === 'unix') socket.write(`yes\n${bait}\n`);
          else if (line === 'no') continue;
          else socket.write('no\n');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const error = await rejection(openChirp('127.0.0.1', port, { auth: ['unix', 'address'] }));
      expect(error.code).toBe('EACCES');
      expect(fs.existsSync(bait)).toBe(false);
      expect(seen).toEqual(['unix', 'no', 'address']);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('reports a refused connection as ECONNREFUSED', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    expect((await rejection(ChirpClient.connect('127.0.0.1', port))).code).toBe('ECONNREFUSED');
  });
});
