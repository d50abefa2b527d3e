# 020_fdw.t
#	dynamo_fdw against a 3-node secure cluster, with faults during one SQL
#	session: a node killed mid-session (W=2 writes still succeed, W=3 fails
#	with the replies received vs needed, reads and the admin functions go
#	on, the session reconnects when the node is back), and a node stopped
#	with SIGSTOP (a query waiting on it is cancelled by statement_timeout
#	and by pg_cancel_backend, and the session stays usable); and the
#	traffic between the FDW and the nodes shows neither key nor value
#	(tcpdump).

use strict;
use warnings;

use Test::More;
use File::Temp ();
use POSIX qw(:sys_wait_h _exit);
use Time::HiRes qw(time sleep);

use DynamoTest ();
use DynamoCluster qw(start_cluster wait_until status_of);
use FdwTest;

my $control = (`pg_config --sharedir` =~ s/\s+$//r) . '/extension/dynamo_fdw.control';
plan skip_all => "dynamo_fdw is not installed ($control is missing: make install)"
  unless -f $control;

my @n = start_cluster(3, engine => 'memory', prefix => 'n', secure => 1);
my ($n1, $n2, $n3) = @n;
my $pg = FdwTest::Postgres->start;

# the user mapping gives the admin key and the trust file inline (the
# server process cannot read the test's private key files)
my $key = DynamoTest::slurp($n1->{admin_key});
my $trust = DynamoTest::slurp($n1->{trust});
my $nodes = join(',', map { $_->addr } @n);
$pg->psql_ok(<<"SQL", 'extension, server, user mapping and foreign table');
CREATE EXTENSION dynamo_fdw;
CREATE SERVER ring FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '$nodes', timeout_ms '10000', connect_timeout_ms '2000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ring OPTIONS (key \$k\$$key\$k\$, trust \$t\$$trust\$t\$);
CREATE FOREIGN TABLE carts (key text, value text, vclock jsonb, siblings int, context text)
  SERVER ring OPTIONS (bucket 'fdw_faults', insert_mode 'sibling');
SQL

subtest 'the wire between the FDW and the nodes shows neither key nor value (tcpdump)' => sub {
	my $tag = sprintf('%08x', int(rand(2**32)));
	my ($key, $value) = ("fdwkey$tag", "fdw-secret-$tag-do-not-show");
	my $dir = File::Temp::tempdir('dynamo-cap-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{DYNAMO_KEEP});
	my %node_port = map { $_->port => 1 } @n;
	# a bucket of its own (the subtests below count the keys of fdw_faults)
	$pg->psql_ok("CREATE FOREIGN TABLE wire_t (key text, value text) SERVER ring OPTIONS (bucket 'wire$tag')",
		'a foreign table on a bucket of its own');
	# a new backend, so its connections to the nodes (and their
	# handshakes) are made during the capture
	my $cs = $pg->session;
	my ($ins, $sel, @backend_ports);
	my ($bytes, $why) = DynamoTest::capture_loopback([ keys %node_port ], "$dir/fdw.pcap", sub {
		$ins = [ $cs->query("SET dynamo_fdw.w = 3; INSERT INTO wire_t (key, value) VALUES ('$key', '$value'); RESET dynamo_fdw.w") ];
		$sel = [ $cs->query("SET dynamo_fdw.r = 3; SELECT value FROM wire_t WHERE key = '$key'; RESET dynamo_fdw.r") ];
		# the backend's own connections to the nodes, which it keeps open
		for (`ss -tnpH state established 2>/dev/null`)
		{
			my @f = split;
			next unless /pid=\Q${\ $cs->pid }\E,/;
			my ($lport) = $f[2] =~ /:(\d+)$/;
			my ($pport) = $f[3] =~ /:(\d+)$/;
			push @backend_ports, $lport if defined $pport && $node_port{$pport};
		}
	});
	plan skip_all => $why if !defined $bytes;
	is($ins->[1], '', 'the INSERT (W=3) worked during the capture') or diag($ins->[1]);
	is($sel->[0], "$value\n", 'and the SELECT (R=3) read the value back') or diag($sel->[1]);
	cmp_ok(length $bytes, '>', 24, 'the capture recorded packets');
	ok(index($bytes, 'DYNS') >= 0, 'it holds secure-channel handshakes (the backend connected during it)');
	cmp_ok(scalar @backend_ports, '>', 0, "ss shows the backend's connections to the nodes (ports @backend_ports)");
	my %bp = map { $_ => 1 } @backend_ports;
	my @fdw = grep { ($bp{ $_->[0] } || $bp{ $_->[1] }) && length $_->[2] } DynamoTest::pcap_tcp_packets($bytes);
	cmp_ok(scalar @fdw, '>', 0, 'the capture holds packets with data between the backend and the nodes');
	is(index($bytes, $value), -1, 'the capture does not contain the value');
	is(index($bytes, $key), -1, 'nor the key');
	is(index($bytes, "wire$tag"), -1, 'nor the bucket');
	is(index($bytes, $tag), -1, 'nor any part of them');
	undef $cs;
};

my $s = $pg->session;
my ($out, $err) = $s->query(q{INSERT INTO carts (key, value)
  SELECT 'k' || i, 'v' || i FROM generate_series(1, 50) AS i});
is($err, '', 'fifty keys written with all nodes up') or diag($err);
($out) = $s->query(q{SELECT count(*) FROM carts WHERE key = ANY (ARRAY(SELECT 'k' || i FROM generate_series(1, 50) i))});
is($out, "50\n", 'and read back with pipelined GETs');

# a key whose preference list starts with n3: its writes go to n3 first
my $k3;
for my $i (1 .. 200)
{
	($out) = $s->query("SELECT node_id FROM dynamo_preflist('ring', 'fdw_faults', 'victim$i') WHERE rank = 1");
	if (defined $out && $out eq "n3\n") { $k3 = "victim$i"; last }
}
ok(defined $k3, "found a key whose preference list starts with n3 ($k3)");
($out, $err) = $s->query("INSERT INTO carts (key, value) VALUES ('$k3', 'before')");
is($err, '', 'written while n3 is up');

subtest 'a node killed mid-session: W=2 still succeeds, W=3 fails with the replies' => sub {
	$n3->kill9;
	# the same backend, whose connection to n3 is now dead
	($out, $err) = $s->query("SET dynamo_fdw.w = 2; INSERT INTO carts (key, value) VALUES ('$k3', 'after kill')");
	is($err, '', 'W=2 write of a key n3 coordinated succeeds with n3 dead') or diag($err);
	($out, $err) = $s->query("SET dynamo_fdw.r = 2; SELECT value FROM carts WHERE key = '$k3' ORDER BY value");
	like($out, qr/after kill/, 'and R=2 reads it back') or diag($err);
	($out, $err) = $s->query(q{INSERT INTO carts (key, value) SELECT 'w2_' || i, 'x' FROM generate_series(1, 20) i});
	is($err, '', 'a batch of twenty W=2 writes succeeds') or diag($err);
	($out, $err) = $s->query(q{SELECT count(DISTINCT key) FROM carts});
	is($out, "71\n", 'a full scan reads every key (50 + 1 + 20) from live replicas') or diag($err);
	($out, $err) = $s->query(q{\set VERBOSITY verbose
SET dynamo_fdw.w = 3;
INSERT INTO carts (key, value) VALUES ('w3', 'needs three');
\set VERBOSITY default});
	like($err, qr/ERROR:  HV000: quorum not met for the put of key "w3" in bucket "fdw_faults"/,
		'W=3 fails with an FDW SQLSTATE naming the operation and key') or diag($err);
	like($err, qr/DETAIL:  2 replies received, 3 needed\./, 'the detail says 2 replies of 3 needed');
	($out, $err) = $s->query('RESET dynamo_fdw.w; SELECT 1');
	is($out, "1\n", 'the session is still usable');
	ok(defined wait_until(15, sub { status_of($n1, 'n3') eq 'down' }), 'n1 sees n3 down');
	($out) = $s->query(q{SELECT id || ':' || status FROM dynamo_nodes('ring') ORDER BY id});
	is($out, "n1:up\nn2:up\nn3:down\n", 'dynamo_nodes shows n3 down');
	# IMPORT FOREIGN SCHEMA with one of N=3 members silent: the others hold every bucket
	($out, $err) = $s->query(q{CREATE SCHEMA imp;
IMPORT FOREIGN SCHEMA dynamo LIMIT TO (fdw_faults) FROM SERVER ring INTO imp;
SELECT (SELECT count(DISTINCT key) FROM imp.fdw_faults) || ' ' || (SELECT count(DISTINCT key) FROM carts);
DROP SCHEMA imp CASCADE});
	like($out, qr/^(\d+) \1\n$/, 'IMPORT FOREIGN SCHEMA with n3 dead: the bucket is imported, it reads every key carts does')
	  or diag("out: $out err: $err");
	like($err, qr/WARNING:  node \S+ did not list its buckets/, '... with a WARNING naming the silent node')
	  or diag($err);
	($out) = $s->query(q{SELECT count(*) FROM dynamo_nodes('ring') WHERE keys IS NULL});
	is($out, "1\n", 'only the dead node has no key count');
	($out) = $s->query(q{SELECT sum(pending) > 0 FROM dynamo_hints('ring') WHERE target = 'n3'});
	is($out, "t\n", 'dynamo_hints shows the hints kept for n3');
};

subtest 'the node back: the session reconnects to it' => sub {
	$n3->restart;
	ok(defined wait_until(20, sub { status_of($n1, 'n3') eq 'up' }), 'n1 sees n3 up again');
	($out, $err) = $s->query(q{SELECT id || ':' || status FROM dynamo_nodes('ring') ORDER BY id});
	is($out, "n1:up\nn2:up\nn3:up\n", 'dynamo_nodes shows every node up') or diag($err);
	# the nodes reconnect to n3 in the background: W=3 works once they have
	my $last = '';
	ok(defined wait_until(20, sub {
		($out, $last) = $s->query("SET dynamo_fdw.w = 3; INSERT INTO carts (key, value) VALUES ('w3', 'three again'); RESET dynamo_fdw.w");
		return $last eq '';
	}), 'W=3 writes succeed again') or diag($last);
	ok(defined wait_until(30, sub {
		($out) = $s->query(q{SELECT coalesce(sum(pending), 0) FROM dynamo_hints('ring') WHERE target = 'n3'});
		return defined $out && $out eq "0\n";
	}), 'and the hints for n3 are delivered (dynamo_hints shows none left)');
	($out, $err) = $s->query(q{SELECT open_nodes FROM dynamo_fdw_get_connections()});
	ok(defined $out && $out >= 1, "the session's connection is open ($out)");
};

subtest 'a query waiting on a stopped node is cancelled by statement_timeout' => sub {
	# a server that reaches the cluster through n2 only
	$pg->psql_ok(sprintf(<<'SQL', $n2->addr, $key, $trust), 'a server routed through n2');
CREATE SERVER via_n2 FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '%s', routing 'any', timeout_ms '60000', connect_timeout_ms '60000');
CREATE USER MAPPING FOR CURRENT_USER SERVER via_n2 OPTIONS (key $k$%s$k$, trust $t$%s$t$);
CREATE FOREIGN TABLE carts_n2 (key text, value text) SERVER via_n2 OPTIONS (bucket 'fdw_faults');
SQL
	($out, $err) = $s->query(q{SELECT value FROM carts_n2 WHERE key = 'k1'});
	is($out, "v1\n", 'read through n2') or diag($err);
	kill 'STOP', $n2->pid;
	my $secs;
	($out, $err, $secs) = $s->query(q{SET statement_timeout = '1s';
SELECT value FROM carts_n2 WHERE key = 'k2';
RESET statement_timeout}, 30);
	like($err, qr/canceling statement due to statement timeout/, 'statement_timeout cancels it');
	cmp_ok($secs, '<', 10, sprintf('within %.1f s, long before timeout_ms (60 s)', $secs));
};

subtest 'and by pg_cancel_backend from another session' => sub {
	$s->send(q{SELECT value FROM carts_n2 WHERE key = 'k3'});
	my $waiting = wait_until(10, sub {
		my ($rc, $o) = $pg->psql(sprintf(q{SELECT wait_event_type FROM pg_stat_activity WHERE pid = %d},
				$s->pid));
		return $rc == 0 && $o eq "Extension\n";
	});
	ok(defined $waiting, 'the backend waits for the node (wait_event_type Extension)');
	my ($rc, $o) = $pg->psql(sprintf('SELECT pg_cancel_backend(%d)', $s->pid));
	is($o, "t\n", 'pg_cancel_backend');
	my ($sout, $serr, $secs) = $s->wait_done(30);
	like($serr, qr/canceling statement due to user request/, 'the query is cancelled');
	kill 'CONT', $n2->pid;
	($out, $err) = $s->query(q{SELECT value FROM carts_n2 WHERE key = 'k4'});
	is($out, "v4\n", 'with n2 running again, the session reads through it again') or diag($err);
	($out, $err) = $s->query(q{SELECT count(*) FROM carts WHERE key IN ('k1', 'k2', 'k3')});
	is($out, "3\n", 'and through the other server') or diag($err);
};

subtest 'a reply that does not come within timeout_ms is an error' => sub {
	kill 'STOP', $n2->pid;
	my $secs;
	($out, $err, $secs) = $s->query(q{SET dynamo_fdw.timeout_ms = 500;
SELECT value FROM carts_n2 WHERE key = 'k5';
RESET dynamo_fdw.timeout_ms}, 30);
	kill 'CONT', $n2->pid;
	like($err, qr/no reply from node 127\.0\.0\.1:\d+ within 500 ms|could not connect to any node/,
		'the wait ends with the timeout') or diag($err);
	cmp_ok($secs, '<', 10, sprintf('after %.1f s', $secs));
	($out, $err) = $s->query(q{SELECT value FROM carts_n2 WHERE key = 'k5'});
	is($out, "v5\n", 'the next query reconnects') or diag($err);
};

done_testing();
