#!/usr/bin/env node
// Starts the reference Bluesky PDS (@atproto/pds) and an in-memory PLC directory (@did-plc/server) on
// loopback, for tests/test_bluesky_pds.py. Usage: node start.js [DATA_DIR]
//
// - Everything listens on 127.0.0.1 only (see the listen shim below); ports are chosen by the OS.
// - Data (sqlite databases, actor stores, blobs) lives in DATA_DIR, or in a fresh temporary directory that
//   is removed on exit.
// - Secrets (JWT secret, PLC rotation key, admin password) are throwaway values generated here at each
//   start; PDS_ADMIN_PASSWORD may be set to choose the admin password.
// - When ready, one line is printed to stdout:
//     CAMPAIGN_PDS_READY {"pds":"http://127.0.0.1:N","plc":"http://127.0.0.1:M","adminPassword":"..."}
// - Stops on SIGTERM/SIGINT, and when stdin closes (so a crashed test runner cannot leave it behind).
//
// How to configure the PDS programmatically follows the atproto repository's packages/dev-env
// (https://github.com/bluesky-social/atproto/tree/main/packages/dev-env): readEnv -> envToCfg /
// envToSecrets -> PDS.create(cfg, secrets) -> start(); PLC: Database.mock() -> PlcServer.create({db, port}).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const LOOPBACK = '127.0.0.1'

// Both servers call `app.listen(port)` with no host, which would bind every interface. Tests must only
// ever listen on loopback, so a listen(port[, callback]) call without a host gets 127.0.0.1.
const originalListen = net.Server.prototype.listen
net.Server.prototype.listen = function listen(...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, LOOPBACK)
  }
  return originalListen.apply(this, args)
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

// A secp256k1 private key as 64 hex digits (what PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX holds).
function k256PrivateKeyHex() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
  const d = privateKey.export({ format: 'jwk' }).d
  return Buffer.from(d, 'base64url').toString('hex').padStart(64, '0')
}

async function main() {
  const given = process.argv[2]
  const dataDir = given ? path.resolve(given) : fs.mkdtempSync(path.join(os.tmpdir(), 'campaign-pds-'))
  fs.mkdirSync(dataDir, { recursive: true })
  const ownsDataDir = !given

  const plc = require('@did-plc/server')
  const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: 0 })
  const plcListener = await plcServer.start()
  const plcUrl = `http://${LOOPBACK}:${plcListener.address().port}`

  const pdsPort = await freePort()
  const adminPassword = process.env.PDS_ADMIN_PASSWORD || crypto.randomBytes(16).toString('hex')
  Object.assign(process.env, {
    PDS_HOSTNAME: 'localhost', // "localhost" makes the public URL http://localhost:PORT and handles *.test
    PDS_PORT: String(pdsPort),
    PDS_DEV_MODE: 'true',
    PDS_INVITE_REQUIRED: 'false',
    PDS_DATA_DIRECTORY: dataDir,
    PDS_BLOBSTORE_DISK_LOCATION: path.join(dataDir, 'blobs'),
    PDS_DID_PLC_URL: plcUrl,
    PDS_JWT_SECRET: crypto.randomBytes(16).toString('hex'),
    PDS_ADMIN_PASSWORD: adminPassword,
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: k256PrivateKeyHex(),
    PDS_CRAWLERS: '',
  })

  const pds = require('@atproto/pds')
  const env = pds.readEnv()
  const server = await pds.PDS.create(pds.envToCfg(env), pds.envToSecrets(env))
  await server.start()
  const pdsUrl = `http://${LOOPBACK}:${pdsPort}`

  let stopping = false
  const stop = async (code) => {
    if (stopping) return
    stopping = true
    try {
      await server.destroy()
      await plcServer.destroy()
    } catch (err) {
      process.stderr.write(`error while stopping: ${err}\n`)
      code = code || 1
    }
    if (ownsDataDir) fs.rmSync(dataDir, { recursive: true, force: true })
    process.exit(code)
  }
  process.on('SIGTERM', () => stop(0))
  process.on('SIGINT', () => stop(0))
  process.stdin.on('end', () => stop(0))
  process.stdin.on('error', () => stop(0))
  process.stdin.resume()

  process.stdout.write(`CAMPAIGN_PDS_READY ${JSON.stringify({ pds: pdsUrl, plc: plcUrl, adminPassword })}\n`)
}

main().catch((err) => {
  process.stderr.write(`failed to start the PDS: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
