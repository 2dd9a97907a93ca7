/**
 * TurnCork over a real loopback TCP pair: on a busy turn the writes stay in the socket
 * until the turn ends, then leave together and in order; a quiet turn writes through;
 * closed sockets are left alone.
 */
import { once } from 'node:events'
import { createServer, connect } from 'node:net'
import type { Server, Socket } from 'node:net'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { TurnCork } from '../../../tracker/src/turn-cork.js'

let server: Server
let sender: Socket
let receiver: Socket
let received: string
/** Every socket of the test, both ends, destroyed after it. */
let sockets: Socket[]

beforeEach(async () => {
  sockets = []
  server = createServer(socket => sockets.push(socket))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const accepted = once(server, 'connection')
  sender = connect(port, '127.0.0.1')
  await once(sender, 'connect')
  receiver = (await accepted)[0] as Socket
  received = ''
  receiver.setEncoding('utf8')
  receiver.on('data', (text: string) => {
    received += text
  })
})

afterEach(async () => {
  for (const socket of [sender, ...sockets]) socket.destroy()
  await new Promise(resolve => server.close(resolve))
})

const nextTurn = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))
const until = async (done: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !done(); i++) await new Promise(resolve => setTimeout(resolve, 10))
}

it('holds the writes of a busy turn and sends them in order when it ends', async () => {
  const cork = new TurnCork(0)
  for (const text of ['one;', 'two;', 'three;']) {
    cork.hold(sender)
    sender.write(text)
  }
  expect(sender.writableLength).toBe('one;two;three;'.length)
  await nextTurn()
  expect(sender.writableLength).toBe(0)
  await until(() => received.length === 14)
  expect(received).toBe('one;two;three;')
})

it('corks again in the next turn, and several sockets at once', async () => {
  const cork = new TurnCork(0)
  const second = connect((server.address() as { port: number }).port, '127.0.0.1')
  sockets.push(second)
  await once(second, 'connect')
  cork.hold(sender)
  sender.write('a;')
  cork.hold(second)
  second.write('x;')
  expect([sender.writableLength, second.writableLength]).toEqual([2, 2])
  await nextTurn()
  expect([sender.writableLength, second.writableLength]).toEqual([0, 0])
  cork.hold(sender)
  sender.write('b;')
  expect(sender.writableLength).toBe(2)
  await nextTurn()
  await until(() => received === 'a;b;')
  expect(received).toBe('a;b;')
})

it('leaves a destroyed socket alone, and a socket closed while held loses nothing it was given', async () => {
  const cork = new TurnCork(0)
  cork.hold(sender)
  sender.end('last words')
  await until(() => received === 'last words')
  expect(received).toBe('last words')
  sender.destroy()
  cork.hold(sender)
  expect(sender.writableCorked).toBe(0)
  await nextTurn()
})

it('writes through on a quiet turn, corks once the turn gets busy, and the turn after a busy one from its start', async () => {
  const cork = new TurnCork(2)
  const send = (text: string): void => {
    cork.hold(sender)
    sender.write(text)
  }
  send('1;')
  send('2;')
  expect(sender.writableLength).toBe(0)
  send('3;')
  send('4;')
  expect(sender.writableLength).toBe(4)
  await nextTurn()
  send('5;')
  expect(sender.writableLength).toBe(2)
  await nextTurn()
  await nextTurn()
  send('6;')
  expect(sender.writableLength).toBe(0)
  await until(() => received.length === 12)
  expect(received).toBe('1;2;3;4;5;6;')
})
