# 006_write_behind.t
#	Write-behind on real dynamod processes (README "Write-behind"): with
#	--durability none a WiredTiger node writes objects behind, through its
#	writer thread; STATUS shows the writer's figures; reads see every write
#	at once, overwrites and deletes included; a clean stop stores the queue,
#	so a restart without write-behind finds every write; --write-behind on
#	where it is impossible stops the node at start saying why; and with
#	flush (the default) or fsync it is off.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest;

my $KEYS = 20_000;

# dynamo-bench against $node, one phase; returns its stderr.
sub bench
{
	my ($node, $op) = @_;
	my ($rc, $out, $err) = DynamoTest::run_cmd(
		cmd => [ DynamoTest::bin('dynamo-bench'), '--node', $node->addr, '--insecure',
			'--connections', '8', '--pipeline', '16', '--keys', $KEYS, '--requests', $KEYS,
			'--sequential', '--op', $op ],
		timeout => 120);
	is($rc, 0, "dynamo-bench --op $op of $KEYS keys") or diag($err);
	return $err;
}

sub value_of
{
	my ($node, $key) = @_;
	my $g = $node->get('b', $key);
	return join ',', map { $_->{value} } @{ $g->{siblings} };
}

subtest 'on with durability none: STATUS, reads of pending writes, a clean stop stores them' => sub {
	my $node = DynamoTest::Node->start(durability => 'none');
	like(DynamoTest::slurp("$node->{log}"), qr/durability none, write-behind/,
		'the start line says write-behind');
	my $wb = $node->status->{memory}{write_behind};
	is(ref $wb, 'HASH', 'STATUS memory.write_behind is an object') or return;
	for my $f (qw(queued written batches max_batch retries waits wait_us queue_bytes batch_bytes))
	{
		like($wb->{$f} // '', qr/^\d+$/, "memory.write_behind.$f is a count");
	}
	ok(!$wb->{failed}, 'not failed');
	cmp_ok($wb->{batch_bytes}, '>', 0, 'a batch size');

	bench($node, 'put');
	my $ctx = $node->put_ok('b', 'over', 'first');
	$node->put_ok('b', 'over', 'second', $ctx);
	my $gone = $node->put_ok('b', 'gone', 'soon deleted');
	my ($rc, $out, $err) = $node->cli('delete', 'b', 'gone', '--context', $gone);
	is($rc, 0, 'delete') or diag($err);
	is(value_of($node, 'over'), 'second', 'an overwrite is read back at once');
	is(value_of($node, 'gone'), '', 'a delete is read back at once');
	unlike(bench($node, 'get'), qr/found no value/, 'every key written is read back');

	# the writer keeps up: everything queued is stored within a few seconds
	my $deadline = time + 10;
	do { $wb = $node->status->{memory}{write_behind}; sleep 0.1 }
		while ($wb->{written} < $wb->{queued} && time < $deadline);
	cmp_ok($wb->{queued}, '>=', $KEYS + 3, "queued counts the writes ($wb->{queued})");
	is($wb->{written}, $wb->{queued}, 'the writer has stored every queued write');
	cmp_ok($wb->{batches}, '>', 1, "in batches ($wb->{batches}, at most $wb->{max_batch} writes)");
	cmp_ok($wb->{max_batch}, '>', 1, 'more than one write in a batch');
	is($wb->{queue_bytes}, 0, 'nothing left in the queue');
	diag("write_behind: " . DynamoTest::json_encode($wb));

	# a PUT and a SIGTERM right after it: the clean stop stores the queue
	$node->put_ok('b', 'last', 'right before the stop');
	is($node->stop, 0, 'SIGTERM: a clean exit');

	$node->restart(args => [ '--write-behind', 'off' ]);
	is($node->status->{memory}{write_behind}, undef, 'restarted with write-behind off');
	unlike(bench($node, 'get'), qr/found no value/, 'every key is in the engine after the restart');
	is(value_of($node, 'over'), 'second', 'the overwrite');
	is(value_of($node, 'gone'), '', 'the delete');
	is(value_of($node, 'last'), 'right before the stop', 'the write right before the stop');
	$node->stop;
};

subtest 'off where it does not apply, refused where it is impossible' => sub {
	my $node = DynamoTest::Node->start();
	is($node->status->{memory}{write_behind}, undef, 'durability flush (the default): off');
	$node->stop;
	$node = DynamoTest::Node->start(engine => 'memory', durability => 'none');
	is($node->status->{memory}{write_behind}, undef, 'the memory engine: off');
	$node->stop;

	my $died = !eval {
		DynamoTest::Node->start(durability => 'fsync', args => [ '--write-behind', 'on' ]);
		1;
	};
	ok($died, '--write-behind on with --durability fsync does not start');
	like($@, qr/write-behind is not possible.*durability none/, 'and says why') or diag($@);

	my ($rc, $out, $err) = DynamoTest::run_cmd(
		cmd => [ DynamoTest::bin('dynamod'), '--id', 'x', '--listen', '127.0.0.1:1',
			'--data', DynamoTest::scratch('wb-bad'), '--insecure', '--write-behind', 'maybe' ],
		timeout => 10);
	is($rc, 2, 'a bad --write-behind value is a usage error');
	like($err, qr/valid values are auto, on, off/, 'listing the valid values');
};

done_testing();
