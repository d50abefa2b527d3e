# 022_fdw_scan_quorum.t
#	A full scan honours R: on a 3-node secure cluster, a key is written
#	with W=3 (every replica holds v1), then updated to v2 with W=2 while
#	its first replica P1 is stopped, through P2 (which keeps the hint for
#	P1); P2 is then stopped and P1 let go on, so P1 is up but lacks v2 and
#	only P3 holds it.  A full scan (no key condition) with R=1 reads the
#	partition from P1 and sees v1; with R=2 it reads P1 and, P2 failing,
#	P3 instead, merges them by key and sees v2, as a point read with R=2
#	would.  EXPLAIN says "Replicas Read: 2 per partition".

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest ();
use DynamoCluster qw(start_cluster wait_until status_of);
use FdwTest;

my $control = (`pg_config --sharedir` =~ s/\s+$//r) . '/extension/dynamo_fdw.control';
plan skip_all => "dynamo_fdw is not installed ($control is missing: make install)"
  unless -f $control;

# no anti-entropy rounds: only hints and read repair could fix P1, and
# neither runs here (the hint holder is stopped; scans do not repair)
my @n = start_cluster(3, engine => 'memory', prefix => 'n', secure => 1,
	args => [ '--repair-interval', '0' ]);
my %by_id = map { $_->{id} => $_ } @n;
my $pg = FdwTest::Postgres->start;
my $key = DynamoTest::slurp($n[0]{admin_key});
my $trust = DynamoTest::slurp($n[0]{trust});
my $nodes = join(',', map { $_->addr } @n);
$pg->psql_ok(<<"SQL", 'extension, server, user mapping and foreign table');
CREATE EXTENSION dynamo_fdw;
CREATE SERVER ring FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '$nodes', timeout_ms '2000', connect_timeout_ms '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ring OPTIONS (key \$k\$$key\$k\$, trust \$t\$$trust\$t\$);
CREATE FOREIGN TABLE t (key text, value text, context text) SERVER ring OPTIONS (bucket 'scanq');
SQL

my ($rc, $out, $err) = $pg->psql(q{SELECT string_agg(node_id, ' ' ORDER BY rank) FROM dynamo_preflist('ring', 'scanq', 'k1')});
chomp $out;
my ($p1, $p2, $p3) = map { $by_id{$_} } split / /, $out;
ok($p1 && $p2 && $p3, "k1's preference list: $out") or BAIL_OUT("no preference list: $err");

# P2 alone coordinates the update (routing any): it keeps P1's hint
$pg->psql_ok(<<"SQL", 'a server that sends everything to P2');
CREATE SERVER via_p2 FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '${\ $p2->addr }', routing 'any', timeout_ms '2000', connect_timeout_ms '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER via_p2 OPTIONS (key \$k\$$key\$k\$, trust \$t\$$trust\$t\$);
CREATE FOREIGN TABLE t_p2 (key text, value text, context text) SERVER via_p2 OPTIONS (bucket 'scanq');
SQL
$pg->psql_ok(q{SET dynamo_fdw.w = 3; INSERT INTO t (key, value) VALUES ('k1', 'v1')},
	'k1 = v1 written with W=3');

kill 'STOP', $p1->pid;
ok(defined wait_until(15, sub { status_of($p2, $p1->{id}) eq 'down' }), 'P2 sees P1 down');
($rc, $out, $err) = $pg->psql(q{SET dynamo_fdw.r = 2; SET dynamo_fdw.w = 2;
UPDATE t_p2 SET value = 'v2' WHERE key = 'k1'});
is($rc, 0, 'k1 = v2 written with W=2 while P1 is stopped') or diag($err);

kill 'STOP', $p2->pid;
kill 'CONT', $p1->pid;
ok(defined wait_until(20, sub {
	status_of($p3, $p1->{id}) eq 'up' && status_of($p3, $p2->{id}) eq 'down'
	  && status_of($p1, $p2->{id}) eq 'down' }),
	'P1 is back and P2 is stopped, as P1 and P3 see them');

my $s = $pg->session;
($out, $err) = $s->query(q{SET dynamo_fdw.r = 1; SELECT value FROM t});
is($out, "v1\n", 'a full scan with R=1 reads P1, which lacks the write') or diag($err);
($out, $err) = $s->query(q{SET dynamo_fdw.r = 2; SELECT key, value FROM t}, 60);
is($out, "k1|v2\n", 'a full scan with R=2 sees the write made with W=2') or diag($err);
($out, $err) = $s->query(q{SET dynamo_fdw.r = 2; SELECT count(*) FROM t}, 60);
is($out, "1\n", 'one row: the versions of the two replicas are merged, not both returned') or diag($err);
($out, $err) = $s->query(q{SET dynamo_fdw.r = 2; EXPLAIN (COSTS OFF) SELECT * FROM t});
like($out, qr/Replicas Read: 2 per partition/, 'EXPLAIN: Replicas Read: 2 per partition') or diag($err);
($out, $err) = $s->query(q{SET dynamo_fdw.r = 3; SELECT value FROM t}, 60);
like($err, qr/only 2 replicas of partition \d+ of server "ring" can be reached, and R is 3/,
	'R=3 with one replica stopped fails, saying how many replicas answer') or diag("out: $out err: $err");
undef $s;

kill 'CONT', $p2->pid;
done_testing();
