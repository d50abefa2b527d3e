# 021_fdw_remove.t
#	dynamo_fdw's administration functions that change the cluster, on a
#	4-node secure cluster of its own: dynamo_repair waits for a node's
#	round with no reply deadline, and a cancel (statement_timeout) ends the
#	wait; dynamo_remove_node('ring', 'n4') returns once the ring no longer
#	lists n4, after which every one of 2,000 rows written with W=2 reads
#	back with R=2 (with n4 stopped too), dynamo_nodes and dynamo_ring show
#	three members, and dynamo_repair on the three finds nothing failed.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest ();
use DynamoCluster qw(start_cluster wait_until wait_converged);
use FdwTest;

my $control = (`pg_config --sharedir` =~ s/\s+$//r) . '/extension/dynamo_fdw.control';
plan skip_all => "dynamo_fdw is not installed ($control is missing: make install)"
  unless -f $control;

my @n = start_cluster(4, engine => 'memory', prefix => 'n', secure => 1);
my ($n1, $n2, $n3, $n4) = @n;
my $pg = FdwTest::Postgres->start;

# the admin key and the trust file inline (the server process cannot read
# the test's private key files)
my $key = DynamoTest::slurp($n1->{admin_key});
my $trust = DynamoTest::slurp($n1->{trust});
my $nodes = join(',', map { $_->addr } @n);
$pg->psql_ok(<<"SQL", 'extension, servers, user mappings and foreign table');
CREATE EXTENSION dynamo_fdw;
CREATE SERVER ring FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '$nodes', timeout_ms '10000', connect_timeout_ms '2000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ring OPTIONS (key \$k\$$key\$k\$, trust \$t\$$trust\$t\$);
CREATE FOREIGN TABLE carts (key text, value text) SERVER ring OPTIONS (bucket 'fdw_remove');
-- a server that asks the cluster through n2 (n1 can then be stopped) and
-- waits at most 1 s for an ordinary reply
CREATE SERVER via_n2 FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '${\ $n2->addr }', routing 'any', timeout_ms '1000', connect_timeout_ms '2000');
CREATE USER MAPPING FOR CURRENT_USER SERVER via_n2 OPTIONS (key \$k\$$key\$k\$, trust \$t\$$trust\$t\$);
SQL

my $s = $pg->session;
my ($out, $err, $secs);

subtest 'a repair waits past timeout_ms for its node, and statement_timeout ends the wait' => sub {
	# connect to every member (STATUS to all), so the REPAIR to n1 goes out
	# on a connection that is already open
	($out, $err) = $s->query(q{SELECT count(*) FROM dynamo_nodes('via_n2')});
	is($out, "4\n", 'four members through n2') or diag($err);
	kill 'STOP', $n1->pid;
	($out, $err, $secs) = $s->query(q{SET statement_timeout = '3s';
SELECT * FROM dynamo_repair('via_n2');
RESET statement_timeout}, 60);
	kill 'CONT', $n1->pid;
	like($err, qr/canceling statement due to statement timeout/,
		'the wait for the stopped n1 is cancelled by statement_timeout') or diag($err);
	cmp_ok($secs, '>=', 2.5, sprintf('only then (%.1f s), not after timeout_ms (1 s)', $secs));
	cmp_ok($secs, '<', 20, 'and promptly');
	ok(wait_converged(\@n, 30), 'n1 is back and the cluster agrees again');
	($out, $err) = $s->query(q{SELECT count(*) FROM dynamo_nodes('ring')});
	is($out, "4\n", 'the session goes on') or diag($err);
};

($out, $err) = $s->query(q{SET dynamo_fdw.w = 2;
INSERT INTO carts (key, value) SELECT 'k' || i, 'v' || i FROM generate_series(1, 2000) AS i;
RESET dynamo_fdw.w}, 120);
is($err, '', '2,000 rows written with W=2') or diag($err);
($out, $err) = $s->query(q{SELECT partitions > 0 FROM dynamo_nodes('ring') WHERE id = 'n4'});
is($out, "t\n", 'n4 owns partitions') or diag($err);

subtest 'dynamo_remove_node returns once n4 has left the ring' => sub {
	($out, $err, $secs) = $s->query(q{SELECT node, partitions > 0, ms >= 0 FROM dynamo_remove_node('ring', 'n4')}, 600);
	is($err, '', 'no error') or diag($err . join('', map { "$_->{id}:\n" . $_->log_tail(20) } @n));
	is($out, "n4|t|t\n", 'one row: n4, the partitions it handed off, the time it took')
	  or diag($out);
	diag(sprintf('dynamo_remove_node took %.1f s', $secs));
	($out, $err) = $s->query(q{SELECT string_agg(id, ',' ORDER BY id), sum(partitions) FROM dynamo_nodes('ring')});
	like($out, qr/^n1,n2,n3\|\d+\n$/, 'dynamo_nodes lists n1, n2, n3') or diag($err);
	($out, $err) = $s->query(q{SELECT count(*), bool_and(NOT 'n4' = ANY (owners)), bool_and(cardinality(owners) = 3)
  FROM dynamo_ring('ring')});
	like($out, qr/^\d+\|t\|t\n$/, 'dynamo_ring: no partition owned by n4, three owners each') or diag($err);
	($out, $err) = $s->query(q{SELECT * FROM dynamo_remove_node('ring', 'n4')});
	like($err, qr/ERROR:  node "n4" is not a member of the ring of server "ring"/,
		'removing it again: not a member');
};

my $every_key = q{SET dynamo_fdw.r = 2;
SELECT count(*) FROM carts WHERE key = ANY (ARRAY(SELECT 'k' || i FROM generate_series(1, 2000) AS i));
SELECT count(*) FROM carts;
SELECT count(*) FROM carts WHERE key = 'k' || substr(value, 2);
RESET dynamo_fdw.r};

subtest 'every row reads back with R=2' => sub {
	($out, $err) = $s->query($every_key, 120);
	is($out, "2000\n2000\n2000\n", 'by key (quorum GETs), by a coverage scan, each value with its key')
	  or diag($err);
};

subtest 'the removed node can be stopped; nothing depended on it' => sub {
	is($n4->stop, 0, 'n4 stops cleanly');
	($out, $err) = $s->query($every_key, 120);
	is($out, "2000\n2000\n2000\n", 'every row still reads back with R=2') or diag($err);
	($out, $err) = $s->query(q{SELECT count(*) FROM dynamo_nodes('ring') WHERE status = 'up'});
	is($out, "3\n", 'three members, all up') or diag($err);
};

subtest 'dynamo_repair on the three left: nothing failed' => sub {
	($out, $err) = $s->query(q{SELECT node, failed, partitions > 0 FROM dynamo_repair('ring') ORDER BY node}, 600);
	is($err, '', 'no error or warning') or diag($err);
	is($out, "n1|0|t\nn2|0|t\nn3|0|t\n", 'one row per node, failed = 0') or diag($out);
};

undef $s;
done_testing();
