// tests/otel/mockotlp.cjs - runs the pinned @elastic/mockotlpserver (a
// third-party OTLP receiver) on a random 127.0.0.1 port for test_otel.py.
// Usage: node mockotlp.cjs INSTALL_DIR. Prints "LISTENING <url>", then one
// line per export it received: "TRACE <normalised JSON>" (its own
// normaliser), "WATERFALL <tree>" (its waterfall printer's rendering), "METRICS <normalised JSON>", or "ERROR <why>" when its code threw
// on what hookline sent.
'use strict';
const path = require('path');
const dir = path.resolve(process.argv[2], 'node_modules', '@elastic', 'mockotlpserver');
const {MockOtlpServer, normalizeTrace, normalizeMetrics} = require(dir);
const {TraceWaterfallPrinter} = require(path.join(dir, 'lib', 'waterfall.js'));
const luggite = require(path.join(dir, 'lib', 'luggite.js'));

const log = luggite.createLogger({name: 'mockotlpserver', level: 'warn'});
const out = (line) => process.stdout.write(line.replace(/\n/g, ' ') + '\n');

const waterfall = new TraceWaterfallPrinter(log);
// The printer renders a little later through console.log: mark its lines.
console.log = (...a) => out('WATERFALL ' + a.join(' '));
const server = new MockOtlpServer({
  log,
  services: ['http'],
  httpHostname: '127.0.0.1',
  httpPort: 0,
  onTrace(trace) {
    try {
      out('TRACE ' + JSON.stringify(normalizeTrace(trace)));
      waterfall.printTrace(trace); // renders through console.log, below
    } catch (err) {
      out('ERROR ' + (err && err.stack || err));
    }
  },
  onMetrics(metrics) {
    try {
      out('METRICS ' + JSON.stringify(normalizeMetrics(metrics)));
    } catch (err) {
      out('ERROR ' + (err && err.stack || err));
    }
  },
});
server.start().then(() => out('LISTENING ' + String(server.httpUrl).replace(/\/$/, '')),
                    (err) => { out('ERROR ' + err); process.exit(1); });
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
