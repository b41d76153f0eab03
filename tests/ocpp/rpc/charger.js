// A charge point played by the npm ocpp-rpc client (strict mode: its own OCPP 1.6 schemas on
// both directions), for tests/ocpp/test_ocpp_rpc.py. Usage:
//   node charger.js <ws url without the id> <charge point id> <idTag> [password]
// Prints one JSON object: what the central system answered to each step.
'use strict';
const { RPCClient } = require('ocpp-rpc');

async function main() {
    const [endpoint, identity, idTag, password] = process.argv.slice(2);
    const client = new RPCClient({
        endpoint, identity, password: password || null, protocols: ['ocpp1.6'],
        strictMode: true, reconnect: false, callTimeoutMs: 5000,
    });
    const remote = [];
    client.handle('RemoteStopTransaction', ({ params }) => {
        remote.push(params);
        return { status: 'Accepted' };
    });
    client.handle(({ method }) => { throw Error(`unexpected ${method}`); });
    await client.connect();
    const now = () => new Date().toISOString();
    const status = (connectorId, s) =>
        client.call('StatusNotification', { connectorId, errorCode: 'NoError', status: s });
    const out = { protocol: client.protocol };
    out.boot = await client.call('BootNotification',
        { chargePointVendor: 'NODE', chargePointModel: 'ocpp-rpc' });
    for (const connector of [0, 1, 2]) {
        out[`status${connector}`] = await status(connector, 'Available');
    }
    out.heartbeat = await client.call('Heartbeat', {});
    out.authorize = await client.call('Authorize', { idTag });
    await status(1, 'Preparing');
    const start = { connectorId: 1, idTag, meterStart: 0, timestamp: now() };
    out.start = await client.call('StartTransaction', start);
    out.startAgain = await client.call('StartTransaction', start);
    await status(1, 'Charging');
    const stop = { transactionId: out.start.transactionId, meterStop: 1500,
                   timestamp: now(), reason: 'Local' };
    out.stop = await client.call('StopTransaction', stop);
    out.stopAgain = await client.call('StopTransaction', stop);
    await status(1, 'Finishing');
    await status(1, 'Available');
    out.orphanStop = await client.call('StopTransaction',
        { transactionId: -1, meterStop: 10, timestamp: now() });
    try {  // a payload that breaks the schema, sent past the client's own check
        await client.call('StatusNotification', { connectorId: 1 }, { noStrict: true });
        out.badCall = 'answered';
    } catch (err) {
        out.badCall = err.rpcErrorCode || String(err);
    }
    await client.close({ code: 1000 });
    console.log(JSON.stringify(out));
}

main().catch((err) => { console.error(err); process.exit(1); });
