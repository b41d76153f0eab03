#!/usr/bin/env node
// An OCPP 1.6J charger played by the npm `ocpp-rpc` client (strict mode: it checks what it
// sends and what it receives against its own copy of the OCPP 1.6 JSON schemas). It runs one
// bounded script and prints one JSON line per thing it saw, then exits:
//   0 done, 1 a step failed, 2 boot not accepted, 3 the whole run timed out.
//
//   node charger.js --url ws://127.0.0.1:2408/ocpp --id CP1 [--password PW] [--connector 1]
//        [--id-tag TAG] [--meter-samples 2] [--remote-wait-ms 0] [--timeout-ms 20000]
//
// Script: BootNotification, Heartbeat, StatusNotification Available, Authorize, StartTransaction,
// StatusNotification Charging, MeterValues x N, StopTransaction (with transactionData),
// StatusNotification Finishing then Available. With --remote-wait-ms > 0 it then waits that long
// for a RemoteStartTransaction (answered Accepted), starts that transaction, waits again for a
// RemoteStopTransaction (answered Accepted) and stops it.
'use strict';

const { RPCClient } = require('ocpp-rpc');

function parseArgs(argv) {
    const opts = {
        url: null, id: null, password: null, connector: 1, idTag: 'RPC-TAG-1', meterSamples: 2,
        remoteWaitMs: 0, timeoutMs: 20000, meterStart: 1000,
    };
    const names = {
        '--url': 'url', '--id': 'id', '--password': 'password', '--connector': 'connector',
        '--id-tag': 'idTag', '--meter-samples': 'meterSamples', '--remote-wait-ms': 'remoteWaitMs',
        '--timeout-ms': 'timeoutMs', '--meter-start': 'meterStart',
    };
    for (let i = 0; i < argv.length; i += 2) {
        const key = names[argv[i]];
        if (!key || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
        const value = argv[i + 1];
        opts[key] = typeof opts[key] === 'number' ? Number(value) : value;
    }
    if (!opts.url || !opts.id) throw new Error('--url and --id are required');
    return opts;
}

function say(event, fields = {}) {
    process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

function now() {
    return new Date().toISOString();
}

function waitFor(emitter, name, ms) {
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), ms);
        emitter.once(name, (value) => { clearTimeout(timer); resolve(value); });
    });
}

async function transaction(cli, opts, idTag, reason, remote) {
    const connectorId = opts.connector;
    const start = await cli.call('StartTransaction', {
        connectorId, idTag, meterStart: opts.meterStart, timestamp: now(),
    });
    say('start_transaction', { transactionId: start.transactionId, status: start.idTagInfo.status });
    const transactionId = start.transactionId;
    await cli.call('StatusNotification', { connectorId, errorCode: 'NoError', status: 'Charging' });
    const samples = [{ timestamp: now(), sampledValue: [
        { value: String(opts.meterStart), context: 'Transaction.Begin', unit: 'Wh' }] }];
    let meter = opts.meterStart;
    for (let i = 0; i < opts.meterSamples; i++) {
        meter += 500;
        const sample = { timestamp: now(), sampledValue: [
            { value: String(meter), context: 'Sample.Periodic',
              measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] };
        samples.push(sample);
        await cli.call('MeterValues', { connectorId, transactionId, meterValue: [sample] });
        say('meter_values', { transactionId, meterWh: meter });
    }
    if (remote) {
        const stop = remote.stopped ? true : await waitFor(remote, 'stop', opts.remoteWaitMs);
        say('remote_stop', { received: stop !== null });
    }
    meter += 100;
    samples.push({ timestamp: now(), sampledValue: [
        { value: String(meter), context: 'Transaction.End', unit: 'Wh' }] });
    const stop = await cli.call('StopTransaction', {
        transactionId, meterStop: meter, timestamp: now(), idTag, reason, transactionData: samples,
    });
    say('stop_transaction', { transactionId, meterStopWh: meter,
                              status: stop.idTagInfo ? stop.idTagInfo.status : null });
    await cli.call('StatusNotification', { connectorId, errorCode: 'NoError', status: 'Finishing' });
    await cli.call('StatusNotification', { connectorId, errorCode: 'NoError', status: 'Available' });
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const deadline = setTimeout(() => { say('timeout', { afterMs: opts.timeoutMs }); process.exit(3); },
                                opts.timeoutMs);
    const cli = new RPCClient({
        endpoint: opts.url, identity: opts.id, password: opts.password, protocols: ['ocpp1.6'],
        strictMode: true, reconnect: false, callTimeoutMs: 10000,
    });
    const { EventEmitter } = require('events');
    const remote = new EventEmitter();
    let pendingTag = null;
    cli.handle('RemoteStartTransaction', ({ params }) => {
        say('remote_start', { idTag: params.idTag, connectorId: params.connectorId ?? null });
        pendingTag = params.idTag;
        setImmediate(() => remote.emit('start', params));
        return { status: 'Accepted' };
    });
    cli.handle('RemoteStopTransaction', ({ params }) => {
        say('remote_stop_request', { transactionId: params.transactionId });
        remote.stopped = true;  // it may come before the script waits for it
        setImmediate(() => remote.emit('stop', params));
        return { status: 'Accepted' };
    });
    cli.handle(({ method }) => {
        say('call_refused', { method });
        const { createRPCError } = require('ocpp-rpc');
        throw createRPCError('NotImplemented');
    });
    cli.on('close', ({ code, reason }) => say('closed', { code, reason: String(reason || '') }));
    cli.on('badMessage', ({ error }) => say('bad_message', { message: String(error && error.message) }));

    let step = 'connect';
    try {
        await cli.connect();
        say('connected', { protocol: cli.protocol });
        step = 'boot';
        const boot = await cli.call('BootNotification', {
            chargePointVendor: 'ocpp-rpc', chargePointModel: 'interop', firmwareVersion: '2.2.1',
        });
        say('boot', { status: boot.status, interval: boot.interval });
        if (boot.status !== 'Accepted') { await cli.close({ force: true }); process.exit(2); }
        step = 'heartbeat';
        const hb = await cli.call('Heartbeat', {});
        say('heartbeat', { currentTime: hb.currentTime });
        step = 'status';
        await cli.call('StatusNotification', { connectorId: opts.connector, errorCode: 'NoError', status: 'Available' });
        say('status', { connectorId: opts.connector, status: 'Available' });
        step = 'authorize';
        const auth = await cli.call('Authorize', { idTag: opts.idTag });
        say('authorize', { idTag: opts.idTag, status: auth.idTagInfo.status });
        if (auth.idTagInfo.status === 'Accepted') {
            step = 'transaction';
            await transaction(cli, opts, opts.idTag, 'Local', null);
        }
        if (opts.remoteWaitMs > 0) {
            step = 'remote';
            const params = pendingTag !== null ? { idTag: pendingTag } : await waitFor(remote, 'start', opts.remoteWaitMs);
            if (params === null) {
                say('remote_start', { received: false });
            } else {
                await transaction(cli, opts, params.idTag, 'Remote', remote);
            }
        }
        step = 'close';
        await cli.close({ code: 1000 });
        clearTimeout(deadline);
        say('done');
        process.exit(0);
    } catch (err) {
        say('error', { step, name: err && err.name, message: String(err && err.message) });
        await cli.close({ force: true }).catch(() => {});
        process.exit(1);
    }
}

main().catch((err) => { say('error', { step: 'args', message: String(err.message) }); process.exit(1); });
