# 005_sync_failure.t
#	A sync that fails is final (README "Durability"): with --durability
#	fsync, fsync and fdatasync are made to fail under the node (an
#	LD_PRELOAD shim, t/lib/fsync_fault.c, fails them with EIO while a file
#	exists).  The write whose sync failed is not acknowledged, and neither
#	is anything after it: a GET on another connection could read the
#	failed write, so it must not be answered either, even once the disk
#	works again (a later fsync that succeeds proves nothing about pages an
#	earlier one failed to write).  With WiredTiger the engine panics after
#	the failed log sync, so a GET there fails anyway; the reply that did
#	leave before the fix was a coordinated PUT whose last replica ack came
#	in after the failure: W=2 acknowledged with one durable copy (the
#	second part, on a two-node cluster where only the coordinator's disk
#	fails).

use strict;
use warnings;

use FindBin;
use File::Spec;
use Test::More;

use DynamoTest qw(raw_connect);
use DynamoCluster qw(raw_put raw_get values_of wait_converged);

my $dir = DynamoTest::scratch();
my $shim = "$dir/fsync_fault.so";
my $src = File::Spec->catfile($FindBin::Bin, 'lib', 'fsync_fault.c');
my ($rc, $out, $err) = DynamoTest::run_cmd(cmd => [ 'cc', '-shared', '-fPIC', '-O2', '-o', $shim, $src, '-ldl' ]);
die "building $shim: $err\n" if $rc != 0;
my $fault = "$dir/fsync-fails";
unlink $fault;

subtest 'single node: the failed write and everything after it unanswered' => sub {
	local $ENV{LD_PRELOAD} = $shim;
	local $ENV{DYNAMO_FSYNC_FAULT} = $fault;
	my $node = DynamoTest::Node->start(engine => 'wiredtiger', durability => 'fsync');
	delete $ENV{LD_PRELOAD};

	my $s = raw_connect($node->port) or die "connect: $!\n";
	my ($st) = raw_put($s, 1, 'sf', 'before', 'durable', 0);
	is($st, 'ok', 'a write while the disk works is acknowledged');

	open my $fh, '>', $fault or die "$fault: $!\n";
	close $fh;
	($st) = raw_put($s, 2, 'sf', 'failed', 'never durable', 0);
	isnt($st, 'ok', "the write whose fsync failed is not acknowledged ($st)");
	unlink $fault;

	my $s2 = raw_connect($node->port) or die "connect: $!\n";
	my ($gs, $sib) = raw_get($s2, 3, 'sf', 'failed', 1);
	isnt($gs, 'ok', "a GET of it afterwards is not answered ($gs)")
	  or diag('it read: ' . join(', ', @{ values_of($sib) }));
	my $s3 = raw_connect($node->port) or die "connect: $!\n";
	($st) = raw_put($s3, 4, 'sf', 'after', 'later', 0);
	isnt($st, 'ok', "nor a write once the disk works again ($st)");
	like($node->log_tail(20), qr/could not make \d+ writes durable.*restart the node/,
		'the log says why, and to restart');
	ok($node->alive, 'the node is still running');

	$node->kill9;
	$node->restart;
	my $s4 = raw_connect($node->port) or die "connect: $!\n";
	($gs, $sib) = raw_get($s4, 5, 'sf', 'before', 1);
	is_deeply($gs eq 'ok' ? values_of($sib) : $gs, ['durable'], 'after a restart the acknowledged write is there');
	($st) = raw_put($s4, 6, 'sf', 'again', 'x', 0);
	is($st, 'ok', 'and the node acknowledges writes again');
	$node->stop;
};

subtest 'two nodes, W=2: a replica ack after the failed sync acknowledges nothing' => sub {
	unlink $fault;
	local $ENV{DYNAMO_FSYNC_FAULT} = $fault;
	local $ENV{LD_PRELOAD} = $shim;
	my $a = DynamoTest::Node->start(id => 'sfa', engine => 'wiredtiger', durability => 'fsync',
		args => [ '--n', 2 ]);
	delete $ENV{LD_PRELOAD};
	my $b = DynamoTest::Node->start(id => 'sfb', engine => 'wiredtiger', durability => 'fsync',
		args => [ '--n', 2, '--seeds', $a->addr ]);
	ok(wait_converged([ $a, $b ], 20), 'the two nodes converged');
	my $s = raw_connect($a->port) or die "connect: $!\n";
	my ($st) = raw_put($s, 1, 'sf', 'w2-before', 'durable', 2);
	is($st, 'ok', 'a W=2 write while both disks work is acknowledged');
	open my $fh, '>', $fault or die "$fault: $!\n";
	close $fh;
	my $info;
	($st, $info) = raw_put($s, 2, 'sf', 'w2-failed', 'one durable copy', 2);
	isnt($st, 'ok', "a W=2 write whose coordinator's fsync failed is not acknowledged ($st)");
	unlink $fault;
	$a->stop;
	$b->stop;
};

done_testing();
