import { describe, expect, it } from 'vitest';
import { ProtocolError, decodeStanzaXml } from '@copilot/protocol';
import { hostileStanzas } from '@test/fixtures/hostile/stanzas/hostile-stanzas';

describe.each(['report', 'namespaced'] as const)(
  'hostile stanza corpus in the %s form through the decoder',
  (form) => {
    const corpus = hostileStanzas('jobmanager@localhost', form);

    it('covers every file in the corpus directory', () => {
      expect(corpus.length).toBeGreaterThanOrEqual(20);
      const moved = corpus.filter((stanza) => stanza.xml.includes('xmlns="urn:xmpp:copilot:0"'));
      expect(moved.length).toBe(form === 'namespaced' ? corpus.length - 2 : 0);
    });

    it.each(corpus.map((stanza) => [stanza.file, stanza] as const))('%s', (_file, stanza) => {
      if (stanza.decode === 'ok') {
        const message = decodeStanzaXml(stanza.xml);
        expect(message.kind).toBe('command');
        return;
      }
      let caught: unknown;
      try {
        decodeStanzaXml(stanza.xml);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ProtocolError);
      expect((caught as ProtocolError).code).toBe(stanza.decode);
    });

    it('decoded hostile values stay data: NUL, .. and shell syntax come through verbatim', () => {
      const byFile = new Map(corpus.map((stanza) => [stanza.file, stanza]));
      const decode = (file: string): unknown => {
        const message = decodeStanzaXml(byFile.get(file)?.xml ?? '');
        return message.kind === 'command' ? message.command : undefined;
      };
      expect(decode('jobdone-nul.xml')).toMatchObject({ jobID: 'job\0../../x' });
      expect(decode('jobdone-dotdot.xml')).toMatchObject({
        jobID: '../../../../tmp/copilot-hostile-dotdot',
      });
      expect(decode('jobdone-shell.xml')).toMatchObject({
        jobID: expect.stringContaining('$(touch /tmp/copilot-hostile-shell)') as unknown,
      });
    });
  },
);
