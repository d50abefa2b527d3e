# 018_memory_bound.t
#	The node's memory stays inside its bound (issue 15, item 3): STATUS
#	reports it (memory.rss, the engine's cache against its configured size,
#	the input buffers held, the partition trees, the allocator's free
#	bytes), and a WiredTiger node with --cache-mb 64 that holds more data
#	than its cache (600,000 keys of 100 bytes, about 86 MB on disk) stays
#	within the cache + 64 MiB after loading them, after a run of random
#	GETs and after two mixed runs -- the resident size read from /proc, not
#	from the node.  Before the node used one malloc arena and gave freed
#	pages back to the kernel, the allocator kept what WiredTiger freed on
#	eviction: 129 MiB after the GETs, 186 and 218 MiB after the mixed runs
#	(this machine, 2 cores shared); now 73, 86 and 85 MiB.  The figures
#	are printed.

use strict;
use warnings;

use Test::More;

use DynamoTest;

my $MIB = 1024 * 1024;
my $CACHE_MB = 64;
my $SLACK_MB = 64;
my $KEYS = 600_000;

sub rss_bytes
{
	my ($pid) = @_;
	my $st = DynamoTest::slurp("/proc/$pid/status") // '';
	return $st =~ /^VmRSS:\s+(\d+) kB/m ? $1 * 1024 : 0;
}

# dynamo-bench against $node: 16 connections, pipeline 16, 100-byte values.
sub bench
{
	my ($node, @args) = @_;
	my ($rc, $out, $err) = DynamoTest::run_cmd(
		cmd => [ DynamoTest::bin('dynamo-bench'), '--node', $node->addr, '--insecure',
			'--connections', '16', '--pipeline', '16', '--keys', $KEYS, @args ],
		timeout => 600);
	is($rc, 0, "dynamo-bench @args") or diag($err);
	diag(join ' ', grep { /ops\/s/ } split /\n/, $out);
}

subtest 'STATUS reports the memory' => sub {
	my $node = DynamoTest::Node->start(args => [ '--cache-mb', $CACHE_MB ]);
	$node->put_ok('b', "k$_", 'v' x 100) for 1 .. 20;
	my $m = $node->status->{memory};
	is(ref $m, 'HASH', 'a memory object') or return;
	for my $f (qw(rss engine_cache engine_cache_dirty engine_cache_max input_held merkle
		heap_free))
	{
		like($m->{$f} // '', qr/^\d+$/, "memory.$f is a count of bytes");
	}
	my $proc = rss_bytes($node->pid);
	cmp_ok(abs($m->{rss} - $proc), '<', $proc / 4,
		"memory.rss ($m->{rss}) is the resident size /proc shows ($proc)");
	my $buf = $m->{object_buffer};
	is(ref $buf, 'HASH', 'an object_buffer object') or return;
	is($buf->{max}, $CACHE_MB * $MIB / 8, 'the object buffer is an eighth of --cache-mb');
	is($m->{engine_cache_max} + $buf->{max}, $CACHE_MB * $MIB,
		'engine_cache_max and the object buffer make --cache-mb');
	cmp_ok($buf->{entries}, '>=', 20, 'the object buffer holds the keys written');
	cmp_ok($buf->{bytes}, '<=', $buf->{max}, 'within its bound');
	is($node->get('b', 'k1')->{siblings}[0]{value}, 'v' x 100, 'a GET of a key written');
	cmp_ok($node->status->{memory}{object_buffer}{hits}, '>', $buf->{hits},
		'was answered from the object buffer');
	cmp_ok($m->{engine_cache}, '>', 0, 'the cache holds the keys written');
	cmp_ok($m->{engine_cache_dirty}, '<=', $m->{engine_cache}, 'dirty is part of it');
	# 64 partitions of 1024 leaves: 2047 digests of 16 bytes and 1023 flags each
	is($m->{merkle}, 64 * (2047 * 16 + 1023), 'merkle: the 64 partition trees');
	cmp_ok($m->{input_held}, '<', 65536, 'input_held: no more than the STATUS request');
	$node->stop;

	my $mem = DynamoTest::Node->start(engine => 'memory', args => [ '--cache-mb', 8 ]);
	my $before = $mem->status->{memory}{engine_cache};
	$mem->put_ok('b', "k$_", 'v' x 1000) for 1 .. 20;
	my $after = $mem->status->{memory};
	is($after->{engine_cache_max}, 8 * $MIB, 'memory engine: engine_cache_max is --cache-mb');
	is($after->{object_buffer}{max}, 0, 'memory engine: no object buffer by default');
	cmp_ok($after->{engine_cache} - $before, '>=', 20 * 1000,
		'memory engine: engine_cache counts the records');
	$mem->stop;
};

subtest "RSS within --cache-mb $CACHE_MB + $SLACK_MB MiB with $KEYS keys" => sub {
	my $node = DynamoTest::Node->start(args => [ '--cache-mb', $CACHE_MB ], timeout => 30);
	my $bound = ($CACHE_MB + $SLACK_MB) * $MIB;
	my @phases = (
		[ 'loaded', '--op', 'put', '--sequential', '--requests', $KEYS ],
		[ 'after random GETs', '--op', 'get', '--requests', $KEYS ],
		[ 'after a mixed run', '--op', 'mixed', '--requests', $KEYS ],
		[ 'after a second mixed run', '--op', 'mixed', '--requests', $KEYS ],
	);
	for my $p (@phases)
	{
		my ($what, @args) = @$p;
		bench($node, @args);
		my $rss = rss_bytes($node->pid);
		my $m = $node->status->{memory} // {};
		diag(sprintf '%s: RSS %.1f MiB (cache %.1f of %.0f MiB, allocator free %.1f MiB)',
			$what, $rss / $MIB, ($m->{engine_cache} // 0) / $MIB,
			($m->{engine_cache_max} // 0) / $MIB, ($m->{heap_free} // 0) / $MIB);
		cmp_ok($rss, '<=', $bound, sprintf('%s: RSS %.1f MiB <= %d MiB', $what, $rss / $MIB,
				$CACHE_MB + $SLACK_MB));
	}
	is($node->status->{keys}, $KEYS, "the node holds the $KEYS keys");
	$node->stop;
};

done_testing();
