import { describe, expect, it } from 'vitest';
import { isControlMessage, mayHoldControl, messagesOf, pingMessage, subscribeEventsMessage, supportedFeaturesMessage } from '../../src/ha/messages.js';

describe('HA message builders', () => {
  it.each([
    [supportedFeaturesMessage(1), { id: 1, type: 'supported_features', features: { coalesce_messages: 1 } }],
    [subscribeEventsMessage(2, 'state_changed'), { id: 2, type: 'subscribe_events', event_type: 'state_changed' }],
    [subscribeEventsMessage(3), { id: 3, type: 'subscribe_events' }],
    [pingMessage(4), { id: 4, type: 'ping' }],
  ])('%s', (json, expected) => {
    expect(JSON.parse(json)).toEqual(expected);
  });
});

describe('mayHoldControl', () => {
  it.each([
    ['{"id":1,"type":"result","success":true,"result":null}', true],
    ['{"id": 1, "type": "result", "success": false, "error": {"code": "x"}}', true],
    ['{"type":"pong","id":5}', true],
    ['[{"type":"event","event":{},"id":2},{"id":7,"type":"pong"}]', true],
    ['{"type":"event","event":{"event_type":"state_changed"},"id":2}', false],
    ['[{"type":"event","event":{"data":{"x":"resultant"}},"id":2}]', false],
  ])('%s → %s', (frame, expected) => {
    expect(mayHoldControl(Buffer.from(frame))).toBe(expected);
  });
});

describe('messagesOf / isControlMessage', () => {
  it('unwraps arrays and single objects', () => {
    expect(messagesOf([1, 2])).toEqual([1, 2]);
    expect(messagesOf({ a: 1 })).toEqual([{ a: 1 }]);
  });
  it.each([
    [{ id: 1, type: 'result', success: true }, true],
    [{ id: 1, type: 'pong' }, true],
    [{ type: 'result' }, false],
    [{ id: 1, type: 'event' }, false],
    [null, false],
  ])('%j → %s', (msg, expected) => {
    expect(isControlMessage(msg)).toBe(expected);
  });
});
