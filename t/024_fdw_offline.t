# 024_fdw_offline.t
#	dynamo_fdw without a reachable node, and TRUNCATE seen from outside
#	PostgreSQL, on a 3-node secure cluster of its own: TRUNCATE of a table
#	leaves none of its keys (dynamo-cli get says not found on every node,
#	R=3), other buckets untouched; an async Append waiting on a node
#	stopped with SIGSTOP is ended by statement_timeout; then, with every
#	node stopped, planning
#	and plain EXPLAIN still work -- a backend that talked to the cluster
#	shows what it learnt (R, N, partitions), a fresh backend says the
#	cluster was not reached, joins are planned (the batched nested loop, from
#	the last ANALYZE) -- while running a query fails with the nodes' reasons.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time);

use DynamoTest ();
use DynamoCluster qw(start_cluster);
use FdwTest;

my $control = (`pg_config --sharedir` =~ s/\s+$//r) . '/extension/dynamo_fdw.control';
plan skip_all => "dynamo_fdw is not installed ($control is missing: make install)"
  unless -f $control;

my @n = start_cluster(3, engine => 'memory', prefix => 'n', secure => 1);
my ($n1) = @n;
my $pg = FdwTest::Postgres->start;
my $key = DynamoTest::slurp($n1->{admin_key});
my $trust = DynamoTest::slurp($n1->{trust});
my $nodes = join(',', map { $_->addr } @n);
$pg->psql_ok(<<"SQL", 'extension, server, user mapping and foreign tables');
CREATE EXTENSION dynamo_fdw;
CREATE SERVER ring FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '$nodes', timeout_ms '3000', connect_timeout_ms '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ring OPTIONS (key \$k\$$key\$k\$, trust \$t\$$trust\$t\$);
CREATE FOREIGN TABLE gone (key text, value text, context text) SERVER ring OPTIONS (bucket 'off_gone');
CREATE FOREIGN TABLE kept (key text, value text, context text) SERVER ring OPTIONS (bucket 'off_kept');
INSERT INTO gone (key, value) SELECT 'g' || i, 'v' || i FROM generate_series(1, 300) AS i;
INSERT INTO kept (key, value) SELECT 'k' || i, 'v' || i FROM generate_series(1, 20) AS i;
CREATE TABLE wanted (id text);
INSERT INTO wanted SELECT 'k' || i FROM generate_series(1, 10) AS i;
ANALYZE wanted;
ANALYZE kept;
SQL

subtest 'TRUNCATE leaves none of the keys on any node' => sub {
	my ($rc, $out, $err) = $n1->cli('get', 'off_gone', 'g7', '--r', '3');
	is($rc, 0, 'g7 is there before') or diag($err);
	$out = $pg->psql_ok('TRUNCATE gone; SELECT count(*) FROM gone', 'TRUNCATE, then count');
	is($out, "0\n", 'count(*) is 0');
	for my $k (qw(g1 g7 g150 g300))
	{
		for my $node (@n)
		{
			($rc, $out, $err) = $node->cli('get', 'off_gone', $k, '--r', '3');
			is($rc, 1, "$k not found through " . $node->addr) or diag("$out$err");
		}
	}
	($rc, $out, $err) = $n1->cli('get', 'off_kept', 'k7', '--r', '3');
	is($rc, 0, 'another bucket keeps its keys') or diag($err);
	like($out, qr/v7/, '... with their values');
};

subtest 'an async Append waiting on a stopped node is ended by statement_timeout' => sub {
	$pg->psql_ok(<<"SQL", 'an async server and two tables');
CREATE SERVER ring_async FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '$nodes', timeout_ms '60000', async_capable 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER ring_async OPTIONS (key \$k\$$key\$k\$, trust \$t\$$trust\$t\$);
CREATE FOREIGN TABLE as1 (key text, value text) SERVER ring_async OPTIONS (bucket 'off_as1');
CREATE FOREIGN TABLE as2 (key text, value text) SERVER ring_async OPTIONS (bucket 'off_as2');
INSERT INTO as1 SELECT i::text, 'v' FROM generate_series(1, 500) AS i;
INSERT INTO as2 SELECT i::text, 'v' FROM generate_series(1, 500) AS i;
SQL
	my $sql = q{SELECT count(*) FROM (SELECT key FROM as1 UNION ALL SELECT key FROM as2) u};
	my $o = $pg->psql_ok("EXPLAIN (COSTS OFF) $sql", 'EXPLAIN');
	like($o, qr/Async Foreign Scan on as1.*Async Foreign Scan on as2/s, 'both scans async');
	kill 'STOP', $n[1]->pid;
	my $t0 = time;
	my ($rc, $out, $err) = $pg->psql("SET statement_timeout = '2s'; $sql", timeout => 60);
	my $secs = time - $t0;
	kill 'CONT', $n[1]->pid;
	like($err, qr/canceling statement due to statement timeout/, 'the wait is cancelled')
	  or diag("rc $rc: $out$err");
	cmp_ok($secs, '<', 10, "... after ${\ sprintf('%.1f', $secs)} s, not the 60 s timeout_ms");
	$o = $pg->psql_ok($sql, 'the node answers again');
	is($o, "1000\n", '... and the async Append counts every row');
};

# a backend that has talked to the cluster, kept open across the stop
my $s = $pg->session;
my ($out, $err) = $s->query(q{SELECT count(*) FROM kept WHERE key = 'k1'});
is($out, "1\n", 'a session that read from the cluster') or diag($err);

$_->stop for @n;

subtest 'with every node stopped, plain EXPLAIN works' => sub {
	($out, $err) = $s->query(q{EXPLAIN (COSTS OFF) SELECT * FROM kept});
	like($out, qr/coverage scan/, 'the session that learnt: a coverage scan') or diag($err);
	like($out, qr/Partitions: 64/, '... with the partitions it learnt');
	like($out, qr/R: 2|Replicas Read: 2/, '... and R');
	like($out, qr/N: 3/, '... and N');

	my ($rc, $o, $e) = $pg->psql(q{EXPLAIN (COSTS OFF) SELECT * FROM kept WHERE key = 'k1'});
	is($rc, 0, 'a fresh backend: EXPLAIN of a GET succeeds') or diag($e);
	like($o, qr/quorum GET/, '... a quorum GET');
	like($o, qr/Cluster: not reached: no node answered/, '... saying the cluster was not reached');

	($rc, $o, $e) = $pg->psql(q{EXPLAIN (COSTS OFF) SELECT count(*) FROM kept});
	is($rc, 0, 'a fresh backend: EXPLAIN of a full scan succeeds (planned from ANALYZE)') or diag($e);
	like($o, qr/coverage count/, '... a coverage count (count(*) pushed down)');

	($rc, $o, $e) = $pg->psql(q{SET enable_hashjoin = off; SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT w.id, k.value FROM wanted w JOIN kept k ON k.key = w.id});
	is($rc, 0, 'a fresh backend: EXPLAIN of a join succeeds') or diag($e);
	like($o, qr/Dynamo Batched Keys/, '... the batched nested loop');

	($rc, $o, $e) = $pg->psql(q{EXPLAIN (COSTS OFF) UPDATE kept SET value = 'x' WHERE key = 'k2'});
	is($rc, 0, 'a fresh backend: EXPLAIN of an UPDATE succeeds') or diag($e);
	like($o, qr/quorum PUT/, '... a quorum PUT');

	($rc, $o, $e) = $pg->psql(q{SELECT * FROM kept WHERE key = 'k1'});
	isnt($rc, 0, 'running the query fails');
	like($e, qr/could not connect to any node of server "ring"/, '... naming the server') or diag($e);
	($rc, $o, $e) = $pg->psql(q{EXPLAIN ANALYZE SELECT * FROM kept WHERE key = 'k1'});
	isnt($rc, 0, 'EXPLAIN ANALYZE runs it, and fails the same way');
};

done_testing();
